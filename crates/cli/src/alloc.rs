//! jemalloc as the whole process's `malloc`, libtorch's tensors included, keeping the pages it
//! frees for the next tensor.
//!
//! With glibc every tensor over 32 MB (a 512 px photo's 64-channel features are 85 MB) is a
//! fresh `mmap`, and every page of it faults in on first write: a per-position AdaIN over such
//! a map took 154 ms, 46 ms once the pages were reused (`semantic::mix` 39 -> 5 ms). Built
//! unprefixed, jemalloc's `malloc`/`posix_memalign` are exported by this executable, so libtorch
//! resolves to them too. Freed pages are never handed back (`dirty_decay_ms:-1`: jemalloc's
//! timed decay gave back the large ones too soon to help), so the resident size stays at the
//! process's high-water mark, which is what it needed at its peak anyway.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A C string jemalloc reads as its options (`malloc_conf`) before its first allocation.
#[repr(transparent)]
pub struct Options(*const std::ffi::c_char);

// SAFETY: a pointer to a static, never written.
unsafe impl Sync for Options {}

#[no_mangle]
#[used]
pub static malloc_conf: Options = Options(c"dirty_decay_ms:-1,muzzy_decay_ms:-1".as_ptr());
