use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use anyhow::{anyhow, Result};
use indicatif::{ProgressBar, ProgressStyle};
use stylize_io::{Limits, OutputFormat, RgbImage, SaveOptions};
use stylize_model::model_dir::load_collection;
use stylize_model::semantic::SemanticConfig;
use stylize_model::{load_network, Precision, Vgg16};
use stylize_pipeline::{self as pipeline, Options, PipelineError, RegionLabels, Sizing, Style, Stylizer};
use tch::Device;

use crate::exit::BadInput;
use crate::timings::Timings;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The trained generator: one forward pass (fast)
    Model,
    /// Gatys et al.: optimise the pixels against VGG16 features (slow, no model needed)
    Optimize,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  stylize run photo.jpg --style wave.jpg                        writes photo_wave.png
  stylize run photo.jpg --style wave.jpg -o out.jpg --strength 0.6
  stylize run photo.jpg --style wave.jpg --preserve-color       keep the photo's colours
  stylize run photo.jpg --style a.jpg --style b.jpg --mix 0.7,0.3
  stylize run photo.jpg --style wave.jpg --style-scale 2        bigger brush strokes
  stylize run big.jpg --style wave.jpg --max-size 0             full resolution, in tiles
  stylize run photos/ more.jpg --style wave.jpg --out-dir out/  a batch
  stylize run photos/ --style wave.jpg --out-dir out/ --shard 0/4  this machine's quarter of it
  stylize run photo.jpg --style wave.jpg --method optimize --steps 300
  stylize run photo.jpg --style wave.jpg --mask sky.png         only where sky.png is white
  stylize run photo.jpg --style cafe.jpg --semantic             regions take matching regions' style
  stylize run photo.jpg --regions labels.png --style a.jpg --style b.jpg  a painting per region
  stylize run photo.jpg --style cafe.jpg --photo-regions p.png --painting-regions c.png
                                                  photo region i takes painting region i's style
  stylize run photo.jpg --model runs/hokusai/model              the fine-tune's own paintings
  stylize run photo.jpg --model runs/hokusai/model --variation 4  four renderings of them

The default model is models/default (see its MODEL_CARD.md); --model fast picks the fast
generator (models/fast), --model DIR any folder written by `stylize train` or `stylize
distill` (its model/ subfolder). Images larger than 2 x --tile on a
side are stylized in tiles that share the whole image's statistics (bounded memory, no
seams). Settings are written into the output's metadata (PNG text, JPEG comment).
No output ever replaces one of the run's inputs (same file, hard link or symlink). A batch
that is stopped (Ctrl-C, a kill) leaves only complete outputs; run it again and it continues
where it stopped. --shard K/N splits a batch between N machines with no coordination.")]
pub struct Args {
    /// Photos to stylize: image files, or folders (their images, sorted by name)
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Style image (a painting); repeat to mix several. Not needed with a model that has its
    /// own collection of paintings (a fine-tune: `stylize train --from`)
    #[arg(long)]
    style: Vec<PathBuf>,
    /// Weights for mixing several styles, comma-separated (default: equal)
    #[arg(long, value_delimiter = ',')]
    mix: Vec<f64>,
    /// Output file for a single photo (.png, .jpg, .webp); default: <photo>_<style>.png here
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output folder for a batch (several photos or a folder): <photo>_<style>.<format>
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Output format in --out-dir: png, jpg or webp
    #[arg(long, default_value = "png")]
    format: String,
    /// Replace existing outputs in --out-dir (default: skip them)
    #[arg(long)]
    overwrite: bool,
    /// Take only share K of N of a batch (K = 0..N-1): photo i goes to shard i mod N, in the
    /// order the inputs expand to, so N machines running the same command split the work
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Style strength: 0 = the photo, 1 = full style
    #[arg(long, default_value_t = 1.0)]
    strength: f64,
    /// Keep the photo's colours: the result's luminance with the photo's chrominance
    #[arg(long, visible_alias = "preserve-colour")]
    preserve_color: bool,
    /// Resize the photo so its longer side is exactly this (up or down); overrides --max-size
    #[arg(long)]
    size: Option<u32>,
    /// Shrink photos whose longer side exceeds this (0 = never: full resolution)
    #[arg(long, default_value_t = 1024)]
    max_size: u32,
    /// The style image's longer side, before --style-scale, when its statistics are taken
    /// (at most 4096 with the scale)
    #[arg(long, default_value_t = 512)]
    style_size: u32,
    /// Brush-stroke size: the style image is resized by this factor (2 = strokes twice as big)
    #[arg(long, default_value_t = 1.0)]
    style_scale: f64,
    /// Tile size for large images (a multiple of 8; 0 = never tile)
    #[arg(long, default_value_t = 512)]
    tile: u32,
    /// model: the trained generator; optimize: Gatys optimisation (slow)
    #[arg(long, value_enum, default_value = "model")]
    method: Method,
    /// Optimisation steps for --method optimize
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// default | fast (the shipped models), or a model folder (model.json + generator.safetensors)
    #[arg(long)]
    model: Option<PathBuf>,
    /// Photos of a batch stylized at once, each on one core (0 = as many as there are cores
    /// for the fast model, one for the others: the VGG16 model's large convs use every core
    /// alone, and each job holds its own copy of the network)
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// JPEG quality, 1-100
    #[arg(long, default_value_t = 92)]
    quality: u8,
    /// Print where the time went (process start, model, style, decode, network, encode)
    #[arg(long)]
    timings: bool,
    /// Stylize only where this image is white (black keeps the photo, grey mixes the two). It
    /// must have the photo's aspect ratio; it is resized to the output. One photo at a time
    #[arg(long, value_name = "FILE")]
    mask: Option<PathBuf>,
    /// A label image for a painting per region: its colours, darkest first, take the --style
    /// paintings in order (one painting per colour; save it as PNG). The photo's aspect ratio
    #[arg(long, value_name = "FILE")]
    regions: Option<PathBuf>,
    /// Regions of the photo drawn as a label image, paired with --painting-regions: the photo's
    /// colour i (darkest first) takes the style of the painting's colour i (semantic transfer
    /// with your regions instead of the automatic ones)
    #[arg(long, value_name = "FILE", requires = "painting_regions")]
    photo_regions: Option<PathBuf>,
    /// The painting's regions for --photo-regions, as a label image with as many colours
    #[arg(long, value_name = "FILE", requires = "photo_regions")]
    painting_regions: Option<PathBuf>,
    /// Soften the mask's (and the regions') edges: a Gaussian blur of this many pixels at the output's size
    #[arg(long, default_value_t = stylize_io::mask::DEFAULT_FEATHER, value_name = "PX")]
    feather: f32,
    /// Match regions: the photo's and the painting's VGG16 features are clustered together
    /// into K regions (default 4) and each region of the photo takes the style of the
    /// painting's matching region. One painting; 1 is the plain result
    #[arg(long, num_args = 0..=1, default_missing_value = "4", value_name = "K")]
    semantic: Option<usize>,
    /// Draw this many renderings from the model's collection (a fine-tune's paintings): each
    /// mixes the paintings with its own weights, the same for the same number on every run.
    /// Outputs get _v1, _v2, ...
    #[arg(long, value_name = "N")]
    variation: Option<u32>,
    /// Compute precision: auto (bf16 on CPUs with AVX512-BF16 or AMX, f32 elsewhere), f32, or
    /// bf16. bf16 is faster where the CPU has it and changes pixels by about 1/255
    #[arg(long, default_value = "auto", value_parser = Precision::parse_or_auto)]
    precision: Precision,
}

/// The shipped models, by the names `--model` takes (folders under the repository's models/).
pub const SHIPPED_MODELS: [&str; 2] = ["default", "fast"];

/// The model folder `--model` names: a shipped model's name, or any folder (write `./fast`
/// for a folder that has a shipped model's name). Without `--model`: $STYLIZE_MODEL (a name or
/// a folder), else the shipped default.
pub fn model_dir(arg: Option<&Path>) -> PathBuf {
    let given = arg.map(Path::to_path_buf).or_else(|| std::env::var_os("STYLIZE_MODEL").filter(|p| !p.is_empty()).map(PathBuf::from));
    let shipped = |name: &str| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models").join(name);
    match given {
        Some(p) if SHIPPED_MODELS.iter().any(|n| p.as_os_str() == *n) => shipped(p.to_str().expect("a shipped name")),
        Some(p) => p,
        None => shipped("default"),
    }
}

/// One style a run paints each photo in: the run's style, or one of its variations.
struct Variant {
    /// One style; with --regions, one per region of the label image.
    styles: Vec<Style>,
    /// Appended to output names: "" or "_v<N>".
    suffix: String,
    /// The mix weights, for the outputs' metadata (none when paintings go to regions).
    mix: Vec<f64>,
}

/// `--photo-regions` and `--painting-regions` as a pair, if they have as many colours.
fn paired_regions(photo: (String, RgbImage), painting: (String, RgbImage)) -> Result<RegionLabels, BadInput> {
    let count = |l: &RgbImage| stylize_io::mask::label_colours(l).len();
    let (p, s) = (count(&photo.1), count(&painting.1));
    let most = stylize_io::mask::MAX_LABELS;
    if p > most || s > most {
        return Err(BadInput(format!("{}, {}: at most {most} colours each (a JPEG's compression makes new ones: save labels as PNG)", photo.0, painting.0)));
    }
    if p != s {
        return Err(BadInput(format!("{} has {p} colours and {} has {s}: the photo's colour i (darkest first) pairs with the painting's colour i", photo.0, painting.0)));
    }
    Ok(RegionLabels { photo, painting })
}

/// The most regions `--semantic` clusters into: more than a painting has are empty.
const MAX_CLUSTERS: usize = 8;

/// The widest mask edge: the blur's cost grows with it, and wider is no longer an edge.
const MAX_FEATHER: f32 = 100.0;

/// The most renderings `--variation` draws per photo.
const MAX_VARIATIONS: u32 = 64;

/// Mix weights of variation `v` over `n` paintings: a draw from the flat Dirichlet
/// distribution (normalised exponentials), seeded by `v`, so a variation's number names the
/// same rendering on every run and machine.
fn variation_weights(v: u32, n: usize) -> Vec<f64> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(v as u64);
    let e: Vec<f64> = (0..n).map(|_| -(1.0 - rng.gen::<f64>()).ln()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|x| x / sum).collect()
}

/// `path` with `suffix` before its extension: out.png -> out_v2.png.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    if suffix.is_empty() {
        return path.to_path_buf();
    }
    let mut name = path.file_stem().map(OsString::from).unwrap_or_default();
    name.push(suffix);
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    path.with_file_name(name)
}

/// Everything loaded once and shared by every photo of a run.
struct Job<'a> {
    args: &'a Args,
    stylizer: Stylizer,
    variants: Vec<Variant>,
    options: Options,
    /// (key, value) settings written into each output.
    settings: Vec<(String, String)>,
    /// What outputs are named after: the first painting's stem, or the model's collection.
    style_name: OsString,
    /// `--mask`: its path as given, and the image as read.
    mask: Option<(String, RgbImage)>,
    /// `--regions`: the label image, likewise.
    labels: Option<(String, RgbImage)>,
    timings: &'a Timings,
}

pub fn run(args: Args) -> Result<()> {
    let timings = Timings::new(args.timings);
    let result = run_timed(&args, &timings);
    timings.report(&args.precision.to_string());
    result
}

fn run_timed(args: &Args, timings: &Timings) -> Result<()> {
    validate(args)?;
    let weights = mix_weights(&args.mix, args.style.len())?;
    let batch = args.out_dir.is_some() || args.inputs.len() > 1 || args.inputs[0].is_dir();
    if batch && args.output.is_some() {
        let what = match args.inputs.iter().find(|p| p.is_dir()) {
            Some(d) => format!("{} is a directory", d.display()),
            None => format!("{} photos given", args.inputs.len()),
        };
        return Err(BadInput(format!("{what}, and -o names one output file: use --out-dir for a batch")).into());
    }
    if batch && args.out_dir.is_none() {
        return Err(BadInput("several photos or a folder need --out-dir".into()).into());
    }
    if batch && (args.mask.is_some() || args.regions.is_some()) {
        return Err(BadInput("--mask and --regions are for one photo (they fit one photo's shape): run each photo with its own".into()).into());
    }
    if !batch && args.shard.is_some() {
        return Err(BadInput("--shard splits a batch: give a folder or several photos with --out-dir".into()).into());
    }
    let format = OutputFormat::from_path(Path::new(&format!("x.{}", args.format)))
        .ok_or_else(|| BadInput(format!("--format {}: use png, jpg or webp", args.format)))?;
    if let Some(out) = &args.output {
        if OutputFormat::from_path(out).is_none() {
            return Err(BadInput(format!("{}: unknown output format: use .png, .jpg or .webp", out.display())).into());
        }
    }

    // Styles first: a bad style fails the whole run before any heavy work. Each is sized to
    // the style size and checked after that resize.
    let style_sizing = Sizing::Exact(style_side(args));
    let styles = args
        .style
        .iter()
        .map(|p| Ok(super::fit(p, &stylize_io::load(p, &Limits::default())?.rgb, style_sizing)?))
        .collect::<Result<Vec<_>>>()?;
    timings.lap("style: read + resize");
    let read = |p: &Option<PathBuf>| -> Result<Option<(String, RgbImage)>> {
        Ok(match p {
            Some(p) => Some((p.display().to_string(), stylize_io::load(p, &Limits::default())?.rgb)),
            None => None,
        })
    };
    let (mask, labels) = (read(&args.mask)?, read(&args.regions)?);
    let pairs = match (read(&args.photo_regions)?, read(&args.painting_regions)?) {
        (Some(photo), Some(painting)) => Some(paired_regions(photo, painting)?),
        _ => None,
    };
    let job = Job::new(args, &styles, &weights, mask, labels, pairs, timings)?;
    // What no output may replace; a batch adds the photos its folders expand to.
    let mut inputs = Inputs::new(args.style.iter().chain(&args.inputs).chain(&args.mask).chain(&args.regions).chain(&args.photo_regions).chain(&args.painting_regions));

    if !batch {
        let photo = &args.inputs[0];
        let output = args.output.clone().unwrap_or_else(|| output_name(photo, &job.style_name, OutputFormat::Png));
        let outputs: Vec<PathBuf> = job.variants.iter().map(|v| with_suffix(&output, &v.suffix)).collect();
        for o in &outputs {
            inputs.refuse_as_output(o)?;
        }
        let started = Instant::now();
        let (w, h) = job.process(photo, &outputs.iter().map(|o| Some(o.as_path())).collect::<Vec<_>>(), true)?;
        let names: Vec<String> = outputs.iter().map(|o| o.display().to_string()).collect();
        eprintln!("{} ({w}x{h}) in {:.2} s", names.join(", "), started.elapsed().as_secs_f64());
        return Ok(());
    }

    let out_dir = args.out_dir.as_ref().expect("checked above");
    std::fs::create_dir_all(out_dir).map_err(|e| BadInput(format!("{}: cannot create the output folder: {e}", out_dir.display())))?;
    let (mut photos, mut failed) = expand_inputs(&args.inputs);
    let shard_note = match args.shard {
        Some(shard) => {
            let all = photos.len();
            photos = photos.into_iter().enumerate().filter(|(i, _)| shard.takes(*i)).map(|(_, p)| p).collect();
            format!(" (shard {shard}: {} of {all} photos)", photos.len())
        }
        None => String::new(),
    };
    inputs.add(&photos);
    let total = photos.len() + failed.len();
    let pb = ProgressBar::new(photos.len() as u64);
    pb.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} photos, ETA {eta} {msg}").expect("valid template"));
    let (mut written, mut skipped) = (0, 0);
    let mut tally = |o: Outcome| {
        written += o.written;
        skipped += o.skipped;
        failed.extend(o.failed);
        pb.inc(1);
    };
    let jobs = batch_jobs(args, photos.len())?;
    let batch = Batch { args, out_dir, format, inputs: &inputs };
    if jobs <= 1 {
        for photo in &photos {
            pb.set_message(file_name(photo));
            tally(batch.photo(&job, photo));
        }
    } else {
        drop(job);
        batch.in_parallel(jobs, &photos, &styles, &weights, &mut tally)?;
    }
    pb.finish_and_clear();
    for f in &failed {
        eprintln!("error: {f}");
    }
    eprintln!(
        "{written} written, {skipped} skipped (already there; --overwrite replaces them), {} failed, in {}{shard_note}",
        failed.len(),
        out_dir.display()
    );
    if !failed.is_empty() {
        return Err(anyhow!("{} of {total} inputs failed", failed.len()));
    }
    Ok(())
}

fn validate(args: &Args) -> Result<(), BadInput> {
    if !(0.0..=1.0).contains(&args.strength) {
        return Err(BadInput(format!("--strength must be between 0 and 1, got {}", args.strength)));
    }
    if !(args.style_scale.is_finite() && args.style_scale > 0.0 && args.style_scale <= 8.0) {
        return Err(BadInput(format!("--style-scale must be in (0, 8], got {}", args.style_scale)));
    }
    // VGG16 on a 4096 px painting already needs several GB; more is a typo, not a wish.
    if style_side(args) > MAX_STYLE_SIDE {
        return Err(BadInput(format!(
            "--style-size x --style-scale is {} px, over the limit of {MAX_STYLE_SIDE}",
            style_side(args)
        )));
    }
    if args.tile != 0 && (args.tile % 8 != 0 || args.tile < 128) {
        return Err(BadInput(format!("--tile must be 0 or a multiple of 8 of at least 128, got {}", args.tile)));
    }
    if args.size == Some(0) || args.style_size == 0 {
        return Err(BadInput("--size and --style-size must be positive".into()));
    }
    if !(1..=100).contains(&args.quality) {
        return Err(BadInput(format!("--quality must be 1-100, got {}", args.quality)));
    }
    if !(args.feather.is_finite() && (0.0..=MAX_FEATHER).contains(&args.feather)) {
        return Err(BadInput(format!("--feather must be 0-{MAX_FEATHER} pixels, got {}", args.feather)));
    }
    if let Some(k) = args.semantic {
        if !(1..=MAX_CLUSTERS).contains(&k) {
            return Err(BadInput(format!("--semantic takes 1-{MAX_CLUSTERS} regions, got {k}")));
        }
    }
    if (args.semantic.is_some() || args.photo_regions.is_some()) && args.style.len() != 1 {
        return Err(BadInput("--semantic and --photo-regions match regions of one painting: give exactly one --style".into()));
    }
    if args.photo_regions.is_some() && args.regions.is_some() {
        return Err(BadInput("--regions (a painting per region) and --photo-regions (regions of one painting) do not go together".into()));
    }
    if args.regions.is_some() {
        if args.style.is_empty() || !args.mix.is_empty() || args.semantic.is_some() || args.mask.is_some() {
            return Err(BadInput("--regions takes one --style per colour of the label image, without --mix, --semantic or --mask".into()));
        }
    }
    if let Some(n) = args.variation {
        if !(1..=MAX_VARIATIONS).contains(&n) {
            return Err(BadInput(format!("--variation must be 1-{MAX_VARIATIONS}, got {n}")));
        }
        if !args.style.is_empty() || args.method == Method::Optimize {
            return Err(BadInput("--variation draws from a model's own collection: leave out --style (mix given paintings with --mix)".into()));
        }
    }
    Ok(())
}

/// The longest side a painting is read at.
const MAX_STYLE_SIDE: u32 = 4096;

/// The painting's longer side when its statistics are taken: `--style-size` x `--style-scale`.
fn style_side(args: &Args) -> u32 {
    (args.style_size as f64 * args.style_scale).round().clamp(1.0, u32::MAX as f64) as u32
}

/// `K/N`: this machine's share of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// Whether the `i`-th photo of the batch is this shard's.
    fn takes(self, i: usize) -> bool {
        i % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected K/N with 0 <= K < N (e.g. 0/4), got {s:?}");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (k.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The files a run reads, by identity, so that no output replaces one of them: a path, a
/// hard link or a symlink to an input is the input.
struct Inputs(Vec<(FileId, PathBuf)>);

#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = PathBuf;

/// Device and inode (unix), else the canonical path; `None` when the file does not exist.
fn file_id(p: &Path) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        std::fs::canonicalize(p).ok()
    }
}

impl Inputs {
    fn new<'a>(paths: impl IntoIterator<Item = &'a PathBuf>) -> Self {
        Inputs(paths.into_iter().filter_map(|p| file_id(p).map(|id| (id, p.clone()))).collect())
    }

    fn add(&mut self, paths: &[PathBuf]) {
        self.0.extend(Inputs::new(paths).0);
    }

    fn refuse_as_output(&self, output: &Path) -> Result<(), BadInput> {
        let Some(id) = file_id(output) else { return Ok(()) };
        match self.0.iter().find(|(i, _)| *i == id) {
            Some((_, input)) => Err(BadInput(format!(
                "{}: refusing to overwrite the input {} (the same file; choose another output)",
                output.display(),
                input.display()
            ))),
            None => Ok(()),
        }
    }
}

/// Files named directly, and the images in folders named; paths that are neither are
/// reported as failures (the batch goes on).
fn expand_inputs(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let (mut photos, mut failed) = (Vec::new(), Vec::new());
    for p in inputs {
        if p.is_dir() {
            match stylize_train::data::list_images(p) {
                Ok(files) if files.is_empty() => failed.push(format!("{}: no images in this folder", p.display())),
                Ok(files) => photos.extend(files),
                Err(e) => failed.push(e.to_string()),
            }
        } else {
            photos.push(p.clone());
        }
    }
    (photos, failed)
}

impl<'a> Job<'a> {
    fn new(
        args: &'a Args,
        styles: &[RgbImage],
        weights: &[f64],
        mask: Option<(String, RgbImage)>,
        labels: Option<(String, RgbImage)>,
        pairs: Option<RegionLabels>,
        timings: &'a Timings,
    ) -> Result<Self> {
        let device = Device::cuda_if_available();
        // Without --style, the model's own collection (a fine-tune's paintings) is the style.
        let mut collection = None::<(String, Vec<stylize_model::StyleCode>)>;
        let (method, method_setting) = match args.method {
            Method::Model => {
                let model_dir = model_dir(args.model.as_deref());
                let (net, info) = load_network(&model_dir, &stylize_weights::vgg16_path()?, device)?;
                let setting = ("stylize:model", format!("{} ({}, {} steps)", file_name(&model_dir), info.kind, info.steps));
                if styles.is_empty() {
                    let Some(c) = &info.collection else {
                        return Err(BadInput(format!("--style is required: {} has no collection of its own (only fine-tunes made with `stylize train --from` do)", model_dir.display())).into());
                    };
                    collection = Some((c.name.clone(), load_collection(&model_dir, &info, device)?));
                }
                (pipeline::Method::Model(net), setting)
            }
            Method::Optimize if styles.is_empty() => return Err(BadInput("--method optimize needs --style".into()).into()),
            Method::Optimize => {
                let setting = ("stylize:method", format!("optimize, {} steps", args.steps));
                (pipeline::Method::Optimize { vgg: Vgg16::load(&stylize_weights::vgg16_path()?, device)?, steps: args.steps }, setting)
            }
        };
        let (collection, codes) = collection.unzip();
        let stylizer = Stylizer::new(method, device).with_collection(codes.unwrap_or_default());
        timings.lap("model: load");
        let (variants, style_name, styles_setting) = match collection {
            Some(name) => {
                let n = stylizer.collection_len();
                let mixes: Vec<(String, Vec<f64>)> = match args.variation {
                    Some(count) => (1..=count).map(|v| (format!("_v{v}"), variation_weights(v, n))).collect(),
                    None => vec![(String::new(), vec![1.0; n])],
                };
                let variants = mixes
                    .into_iter()
                    .map(|(suffix, mix)| Ok(Variant { styles: vec![stylizer.collection_style(&mix).map_err(pipeline_error)?], suffix, mix }))
                    .collect::<Result<Vec<_>>>()?;
                (variants, OsString::from(&name), format!("the model's collection {name} ({n} paintings)"))
            }
            None => {
                let name = args.style[0].file_stem().map(OsString::from).unwrap_or_else(|| "style".into());
                let semantic = match &pairs {
                    Some(p) => Some(stylize_io::mask::label_colours(&p.painting.1).len()),
                    None => args.semantic,
                };
                let styles = match (semantic, &labels) {
                    (Some(k), _) => vec![stylizer.semantic_style(&styles[0], SemanticConfig { clusters: k, ..Default::default() }, pairs).map_err(pipeline_error)?],
                    // A painting per region: each its own style, composed by the label image.
                    (None, Some(_)) => styles.iter().map(|s| stylizer.style(&[s], &[1.0], args.precision).map_err(pipeline_error)).collect::<Result<Vec<_>>>()?,
                    (None, None) => vec![stylizer.style(&styles.iter().collect::<Vec<_>>(), weights, args.precision).map_err(pipeline_error)?],
                };
                // Paintings per region are composed, not mixed: no weights to record.
                let mix = if labels.is_some() { Vec::new() } else { weights.to_vec() };
                let variant = Variant { styles, suffix: String::new(), mix };
                (vec![variant], name, args.style.iter().map(|p| file_name(p)).collect::<Vec<_>>().join(", "))
            }
        };
        timings.lap("style: code");
        let mut settings = vec![
            ("stylize:version", env!("CARGO_PKG_VERSION").to_string()),
            ("stylize:styles", styles_setting),
            ("stylize:strength", args.strength.to_string()),
            ("stylize:preserve_color", args.preserve_color.to_string()),
            ("stylize:style_size", format!("{} x {}", args.style_size, args.style_scale)),
            method_setting,
        ];
        if let Some(k) = args.semantic {
            settings.push(("stylize:semantic", format!("{k} regions")));
        }
        if let Some(r) = &args.regions {
            settings.push(("stylize:regions", format!("{}, feather {} px", file_name(r), args.feather)));
        }
        if let (Some(p), Some(s)) = (&args.photo_regions, &args.painting_regions) {
            settings.push(("stylize:paired_regions", format!("{} with {}", file_name(p), file_name(s))));
        }
        if let Some(m) = &args.mask {
            settings.push(("stylize:mask", format!("{}, feather {} px", file_name(m), args.feather)));
        }
        let options =
            Options { strength: args.strength, preserve_colour: args.preserve_color, tile: args.tile, precision: args.precision };
        let settings = settings.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Ok(Self { args, stylizer, variants, options, settings, style_name, mask, labels, timings })
    }

    /// Stylizes one photo with each variant whose output is given (`outputs[i]` for
    /// `variants[i]`, each written atomically), decoding it once; returns the output's size.
    fn process(&self, photo_path: &Path, outputs: &[Option<&Path>], show_progress: bool) -> Result<(u32, u32)> {
        let photo = stylize_io::load(photo_path, &Limits::default())?;
        let sizing = match self.args.size {
            Some(s) => Sizing::Exact(s),
            None => Sizing::AtMost(self.args.max_size),
        };
        let rgb = super::fit(photo_path, &photo.rgb, sizing)?;
        self.timings.lap("photo: read + resize");
        let mask = match &self.mask {
            Some((path, m)) => {
                let fitted = stylize_io::mask::fit_mask(m, path, rgb.dimensions(), self.args.feather)?;
                if !stylize_io::mask::has_white(&fitted) {
                    eprintln!("warning: {path} has no white: nothing is stylized, the output is the photo");
                }
                Some(fitted)
            }
            None => None,
        };
        let what = match self.args.method {
            Method::Model => "tile passes",
            Method::Optimize => "steps",
        };
        let region_masks = match &self.labels {
            Some((path, l)) => Some(stylize_io::mask::label_masks(l, path, self.args.style.len(), rgb.dimensions(), rgb.dimensions(), self.args.feather)?),
            None => None,
        };
        for (variant, output) in self.variants.iter().zip(outputs).filter_map(|(v, o)| o.map(|o| (v, o))) {
            let mut results = Vec::with_capacity(variant.styles.len());
            for style in &variant.styles {
                let pb = if show_progress { ProgressBar::new(0) } else { ProgressBar::hidden() };
                pb.set_style(ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what}, ETA {{eta}}")).expect("valid template"));
                let result = self
                    .stylizer
                    .stylize(&rgb, style, &self.options, &mut |done, total| {
                        pb.set_length(total as u64);
                        pb.set_position(done as u64);
                    })
                    .map_err(pipeline_error)
                    .map_err(|e| e.context(photo_path.display().to_string()))?;
                pb.finish_and_clear();
                results.push(result);
            }
            let result = match &region_masks {
                Some(masks) => stylize_io::mask::compose(&results.iter().collect::<Vec<_>>(), masks),
                None => results.pop().expect("one style"),
            };
            let result = match &mask {
                Some(m) => stylize_io::mask::blend(&rgb, &result, m),
                None => result,
            };
            self.timings.lap("network");
            let mut metadata = self.settings.clone();
            if !variant.mix.is_empty() {
                metadata.push(("stylize:mix".into(), variant.mix.iter().map(|w| format!("{w}")).collect::<Vec<_>>().join(",")));
            }
            metadata.push(("stylize:size".into(), format!("{}x{}", rgb.width(), rgb.height())));
            let opts = SaveOptions { jpeg_quality: self.args.quality, metadata };
            stylize_io::save(output, &result, photo.alpha.as_ref(), &opts)?;
            self.timings.lap("output: encode + write");
        }
        Ok((rgb.width(), rgb.height()))
    }
}

/// How many photos of a batch of `n` are stylized at once (`--jobs`, 0 = auto).
fn batch_jobs(args: &Args, n: usize) -> Result<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let jobs = match args.jobs {
        // A small network leaves cores idle between its layers: whole photos side by side
        // keep them busy (the fast model on 770x512 photos, 2 cores: 0.116 s each against
        // 0.151 s one at a time; bench/e2e.md).
        0 if args.method == Method::Model && !args.timings => {
            let kind = stylize_model::model_dir::read_info(&model_dir(args.model.as_deref()))?.kind;
            if kind == stylize_model::ModelKind::Fast { cores } else { 1 }
        }
        0 => 1,
        j => j,
    };
    Ok(jobs.min(n).max(1))
}

/// What one photo of a batch came to.
#[derive(Default)]
struct Outcome {
    written: usize,
    skipped: usize,
    failed: Option<String>,
}

/// A batch's photos into `out_dir`, each with every variant of a [`Job`].
struct Batch<'a> {
    args: &'a Args,
    out_dir: &'a Path,
    format: OutputFormat,
    inputs: &'a Inputs,
}

impl Batch<'_> {
    /// One photo: its outputs already there are skipped, the rest made from one decode.
    fn photo(&self, job: &Job, photo: &Path) -> Outcome {
        let output = self.out_dir.join(output_name(photo, &job.style_name, self.format));
        let outputs: Vec<PathBuf> = job.variants.iter().map(|v| with_suffix(&output, &v.suffix)).collect();
        let todo: Vec<Option<&Path>> = outputs.iter().map(|o| (self.args.overwrite || !o.exists()).then_some(o.as_path())).collect();
        let n_todo = todo.iter().flatten().count();
        let mut outcome = Outcome { skipped: outputs.len() - n_todo, ..Default::default() };
        if n_todo > 0 {
            let checked = todo.iter().flatten().try_for_each(|o| self.inputs.refuse_as_output(o));
            match checked.map_err(anyhow::Error::from).and_then(|()| job.process(photo, &todo, false)) {
                Ok(_) => outcome.written = n_todo,
                Err(e) => outcome.failed = Some(format!("{e:#}")),
            }
        }
        outcome
    }

    /// The photos on `jobs` threads, each with its own [`Job`] (its own network and styles;
    /// libtorch on one core in each), taking the next photo as it finishes one; `done` gets
    /// each photo's outcome as it comes. A job that cannot start fails the run.
    fn in_parallel(&self, jobs: usize, photos: &[PathBuf], styles: &[RgbImage], weights: &[f64], mut done: impl FnMut(Outcome)) -> Result<()> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..jobs)
                .map(|_| {
                    let tx = tx.clone();
                    let next = &next;
                    scope.spawn(move || -> Result<()> {
                        // The intra-op thread count is per thread under OpenMP.
                        tch::set_num_threads(1);
                        let timings = Timings::new(false);
                        let job = Job::new(self.args, styles, weights, None, None, None, &timings)?;
                        while let Some(photo) = photos.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                            // The receiver lives until every worker is joined.
                            let _ = tx.send(self.photo(&job, photo));
                        }
                        Ok(())
                    })
                })
                .collect();
            drop(tx);
            for outcome in rx {
                done(outcome);
            }
            workers.into_iter().try_for_each(|w| w.join().map_err(|_| anyhow!("a batch job panicked"))?)
        })
    }
}

/// One weight per style, validated; equal weights when none are given.
fn mix_weights(mix: &[f64], styles: usize) -> Result<Vec<f64>, BadInput> {
    if mix.is_empty() {
        return Ok(vec![1.0; styles]);
    }
    if mix.len() != styles {
        return Err(BadInput(format!("--mix has {} weights for {styles} styles", mix.len())));
    }
    if mix.iter().any(|w| !w.is_finite() || *w < 0.0) || mix.iter().sum::<f64>() <= 0.0 {
        return Err(BadInput("--mix weights must be non-negative and sum to a positive number".into()));
    }
    Ok(mix.to_vec())
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

/// Sizes were checked before the pipeline ran, so what is left is a libtorch failure (exit 1).
fn pipeline_error(e: PipelineError) -> anyhow::Error {
    match e {
        PipelineError::Size(s) => BadInput(s.to_string()).into(),
        PipelineError::Unsupported(s) => BadInput(s).into(),
        other => other.into(),
    }
}

/// `<photo stem>_<style name>.<ext>`, keeping the stems' bytes (a non-UTF-8 name stays as it is).
fn output_name(photo: &Path, style: &OsStr, format: OutputFormat) -> PathBuf {
    let mut name = photo.file_stem().map(OsString::from).unwrap_or_else(|| "image".into());
    name.push("_");
    name.push(style);
    name.push(".");
    name.push(format.extension());
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_weights_are_validated() {
        assert_eq!(mix_weights(&[], 2).unwrap(), vec![1.0, 1.0]);
        assert_eq!(mix_weights(&[0.7, 0.3], 2).unwrap(), vec![0.7, 0.3]);
        assert!(mix_weights(&[1.0], 2).unwrap_err().0.contains("1 weights for 2 styles"));
        assert!(mix_weights(&[0.0, 0.0], 2).is_err());
        assert!(mix_weights(&[-1.0, 2.0], 2).is_err());
    }

    #[test]
    fn shards_split_a_batch_with_no_overlap() {
        let shards: Vec<Shard> = (0..3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        for i in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.takes(i)).count(), 1, "photo {i} in exactly one shard");
        }
        assert_eq!((0..10).filter(|&i| shards[0].takes(i)).collect::<Vec<_>>(), vec![0, 3, 6, 9]);
        for bad in ["3/3", "1", "a/b", "0/0", "-1/2", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(" 1 / 4 ".trim().parse::<Shard>().unwrap().to_string(), "1/4");
    }

    #[test]
    fn outputs_that_are_inputs_are_refused_by_identity() {
        let dir = tempfile::tempdir().unwrap();
        let photo = dir.path().join("photo.png");
        std::fs::write(&photo, b"x").unwrap();
        let link = dir.path().join("hard.png");
        std::fs::hard_link(&photo, &link).unwrap();
        let sym = dir.path().join("sym.png");
        std::os::unix::fs::symlink(&photo, &sym).unwrap();
        let inputs = Inputs::new([&photo]);
        let dotted = dir.path().join(".").join("photo.png");
        for same in [&photo, &link, &sym, &dotted] {
            let e = inputs.refuse_as_output(same).unwrap_err().0;
            assert!(e.contains("refusing to overwrite") && e.contains("photo.png"), "{e}");
        }
        assert!(inputs.refuse_as_output(&dir.path().join("new.png")).is_ok());
        std::fs::write(dir.path().join("other.png"), b"y").unwrap();
        assert!(inputs.refuse_as_output(&dir.path().join("other.png")).is_ok());
    }

    #[test]
    fn variations_are_fixed_draws_that_differ() {
        let a = variation_weights(1, 5);
        assert_eq!(a, variation_weights(1, 5), "the same number is the same rendering");
        assert!((a.iter().sum::<f64>() - 1.0).abs() < 1e-12 && a.iter().all(|w| *w > 0.0));
        let b = variation_weights(2, 5);
        assert!(a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() > 0.1, "{a:?} vs {b:?}");
        assert_eq!(with_suffix(Path::new("out/x.png"), "_v2"), PathBuf::from("out/x_v2.png"));
        assert_eq!(with_suffix(Path::new("x.png"), ""), PathBuf::from("x.png"));
    }

    #[test]
    fn output_names_photo_and_style() {
        assert_eq!(output_name(Path::new("a/cat.jpg"), OsStr::new("wave"), OutputFormat::Png), PathBuf::from("cat_wave.png"));
        assert_eq!(output_name(Path::new("a/cat.jpg"), OsStr::new("wave"), OutputFormat::Jpeg).extension().unwrap(), "jpg");
        use std::os::unix::ffi::OsStrExt;
        let odd = Path::new(std::ffi::OsStr::from_bytes(b"bad\xffname.jpg"));
        assert_eq!(output_name(odd, OsStr::new("w"), OutputFormat::Png).as_os_str().as_bytes(), b"bad\xffname_w.png");
    }
}
