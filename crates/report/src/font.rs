//! A tiny built-in 5x8 bitmap font (7 rows above the baseline, 1 descender row).
//!
//! Built in so that report images need no font files or font crates; monospaced so
//! widths are trivial to compute and text can be truncated or wrapped by counting chars.

use image::{Rgb, RgbImage};

/// Glyph width in font pixels.
pub const GLYPH_W: u32 = 5;
/// Glyph height in font pixels (includes one descender row for g, j, p, q, y, comma).
pub const GLYPH_H: u32 = 8;
/// Horizontal advance per character: glyph plus one pixel of spacing.
pub const ADVANCE: u32 = GLYPH_W + 1;
/// Vertical advance per line, in font pixels.
pub const LINE_H: u32 = GLYPH_H + 2;

/// Rows of a glyph, top first; bit 4 is the leftmost column.
/// Upper case, digits and most punctuation follow the classic 5x7 LCD shapes.
fn glyph(c: char) -> [u8; 8] {
    match c {
        ' ' | '\t' => [0; 8],
        '0' => [
            0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110, 0,
        ],
        '1' => [
            0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0,
        ],
        '2' => [
            0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111, 0,
        ],
        '3' => [
            0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110, 0,
        ],
        '4' => [
            0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010, 0,
        ],
        '5' => [
            0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110, 0,
        ],
        '6' => [
            0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110, 0,
        ],
        '7' => [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0,
        ],
        '8' => [
            0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110, 0,
        ],
        '9' => [
            0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100, 0,
        ],
        'A' => [
            0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0,
        ],
        'B' => [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110, 0,
        ],
        'C' => [
            0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110, 0,
        ],
        'D' => [
            0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100, 0,
        ],
        'E' => [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111, 0,
        ],
        'F' => [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000, 0,
        ],
        'G' => [
            0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111, 0,
        ],
        'H' => [
            0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0,
        ],
        'I' => [
            0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0,
        ],
        'J' => [
            0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100, 0,
        ],
        'K' => [
            0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001, 0,
        ],
        'L' => [
            0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111, 0,
        ],
        'M' => [
            0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001, 0,
        ],
        'N' => [
            0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0,
        ],
        'O' => [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0,
        ],
        'P' => [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000, 0,
        ],
        'Q' => [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101, 0,
        ],
        'R' => [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001, 0,
        ],
        'S' => [
            0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110, 0,
        ],
        'T' => [
            0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0,
        ],
        'U' => [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0,
        ],
        'V' => [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0,
        ],
        'W' => [
            0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010, 0,
        ],
        'X' => [
            0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001, 0,
        ],
        'Y' => [
            0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0,
        ],
        'Z' => [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111, 0,
        ],
        'a' => [0, 0, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111, 0],
        'b' => [
            0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110, 0,
        ],
        'c' => [0, 0, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110, 0],
        'd' => [
            0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111, 0,
        ],
        'e' => [0, 0, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110, 0],
        'f' => [
            0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000, 0,
        ],
        'g' => [0, 0, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110],
        'h' => [
            0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0,
        ],
        'i' => [0b00100, 0, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110, 0],
        'j' => [
            0b00010, 0, 0b00110, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100,
        ],
        'k' => [
            0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0,
        ],
        'l' => [
            0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0,
        ],
        'm' => [0, 0, 0b11010, 0b10101, 0b10101, 0b10101, 0b10001, 0],
        'n' => [0, 0, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0],
        'o' => [0, 0, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110, 0],
        'p' => [0, 0, 0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000],
        'q' => [0, 0, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b00001],
        'r' => [0, 0, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000, 0],
        's' => [0, 0, 0b01111, 0b10000, 0b01110, 0b00001, 0b11110, 0],
        't' => [
            0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110, 0,
        ],
        'u' => [0, 0, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101, 0],
        'v' => [0, 0, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0],
        'w' => [0, 0, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010, 0],
        'x' => [0, 0, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0],
        'y' => [0, 0, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110],
        'z' => [0, 0, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111, 0],
        '.' => [0, 0, 0, 0, 0, 0b01100, 0b01100, 0],
        ',' => [0, 0, 0, 0, 0, 0b01100, 0b00100, 0b01000],
        ':' => [0, 0b01100, 0b01100, 0, 0b01100, 0b01100, 0, 0],
        ';' => [0, 0b01100, 0b01100, 0, 0b01100, 0b00100, 0b01000, 0],
        '-' => [0, 0, 0, 0b01110, 0, 0, 0, 0],
        '_' => [0, 0, 0, 0, 0, 0, 0, 0b11111],
        '/' => [0, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0, 0],
        '\\' => [0, 0b10000, 0b01000, 0b00100, 0b00010, 0b00001, 0, 0],
        '(' => [
            0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010, 0,
        ],
        ')' => [
            0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000, 0,
        ],
        '[' => [
            0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110, 0,
        ],
        ']' => [
            0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110, 0,
        ],
        '%' => [
            0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011, 0,
        ],
        '=' => [0, 0, 0b11111, 0, 0b11111, 0, 0, 0],
        '+' => [0, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0, 0],
        '*' => [0, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0, 0],
        '<' => [
            0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010, 0,
        ],
        '>' => [
            0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000, 0,
        ],
        '!' => [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0, 0b00100, 0],
        '?' => [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0, 0b00100, 0],
        '\'' => [0b00100, 0b00100, 0b01000, 0, 0, 0, 0, 0],
        '"' => [0b01010, 0b01010, 0b01010, 0, 0, 0, 0, 0],
        '#' => [
            0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010, 0,
        ],
        '&' => [
            0b01100, 0b10010, 0b10100, 0b01000, 0b10101, 0b10010, 0b01101, 0,
        ],
        '|' => [
            0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0,
        ],
        '^' => [0b00100, 0b01010, 0b10001, 0, 0, 0, 0, 0],
        '~' => [0, 0, 0b01000, 0b10101, 0b00010, 0, 0, 0],
        '@' => [
            0b01110, 0b10001, 0b00001, 0b01101, 0b10101, 0b10101, 0b01110, 0,
        ],
        '$' => [
            0b00100, 0b01111, 0b10100, 0b01110, 0b00101, 0b11110, 0b00100, 0,
        ],
        '{' => [
            0b00010, 0b00100, 0b00100, 0b01000, 0b00100, 0b00100, 0b00010, 0,
        ],
        '}' => [
            0b01000, 0b00100, 0b00100, 0b00010, 0b00100, 0b00100, 0b01000, 0,
        ],
        '`' => [0b01000, 0b00100, 0, 0, 0, 0, 0, 0],
        // Anything else (accents, CJK, ...) shows as a hollow box so it is visibly
        // "some character" and widths stay one-char-per-glyph.
        _ => [
            0b11111, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11111, 0,
        ],
    }
}

fn line_width(line: &str, scale: u32) -> u32 {
    let n = line.chars().count() as u32;
    if n == 0 {
        0
    } else {
        // No trailing spacing column, so the box hugs the ink.
        (n * ADVANCE - 1) * scale
    }
}

/// Width in pixels of `text` drawn at `scale` (the widest line if it contains `\n`).
pub fn text_width(text: &str, scale: u32) -> u32 {
    text.split('\n')
        .map(|l| line_width(l, scale))
        .max()
        .unwrap_or(0)
}

/// Height in pixels of `text` drawn at `scale`; 0 for an empty string.
pub fn text_height(text: &str, scale: u32) -> u32 {
    if text.is_empty() {
        return 0;
    }
    let lines = text.split('\n').count() as u32;
    ((lines - 1) * LINE_H + GLYPH_H) * scale
}

/// Draws `text` with its top-left corner at (`x`, `y`), each font pixel a
/// `scale` x `scale` block. Clipped to the image; `\n` starts a new line.
/// Only pixels inside the box `text_width` x `text_height` from (`x`, `y`) change.
pub fn draw_text(img: &mut RgbImage, x: i32, y: i32, text: &str, scale: u32, color: Rgb<u8>) {
    if scale == 0 {
        return;
    }
    let (w, h) = (img.width() as i64, img.height() as i64);
    let s = scale as i64;
    for (li, line) in text.split('\n').enumerate() {
        let y0 = y as i64 + li as i64 * (LINE_H as i64) * s;
        for (ci, c) in line.chars().enumerate() {
            let x0 = x as i64 + ci as i64 * (ADVANCE as i64) * s;
            if x0 >= w || y0 >= h {
                continue;
            }
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in 0..GLYPH_W {
                    if bits & (1 << (GLYPH_W - 1 - col)) == 0 {
                        continue;
                    }
                    let bx = x0 + col as i64 * s;
                    let by = y0 + row as i64 * s;
                    for py in by.max(0)..(by + s).min(h) {
                        for px in bx.max(0)..(bx + s).min(w) {
                            img.put_pixel(px as u32, py as u32, color);
                        }
                    }
                }
            }
        }
    }
}

/// `text` shortened with a trailing ".." so that it fits in `max_width` pixels at
/// `scale`; unchanged if it already fits, empty if not even ".." fits.
pub fn fit_text(text: &str, scale: u32, max_width: u32) -> String {
    if text_width(text, scale) <= max_width {
        return text.to_string();
    }
    let cap = chars_that_fit(scale, max_width);
    if cap < 3 {
        // Room for at most two glyphs: an ellipsis alone would say nothing useful.
        return text.chars().take(cap).collect();
    }
    let mut s: String = text.chars().take(cap - 2).collect();
    s.push_str("..");
    s
}

/// Number of characters of one line that fit in `max_width` pixels.
fn chars_that_fit(scale: u32, max_width: u32) -> usize {
    if scale == 0 {
        return usize::MAX;
    }
    ((max_width / scale + 1) / ADVANCE) as usize
}

/// Greedy word wrap into at most `max_lines` lines of at most `max_width` pixels.
/// Breaks preferably after a space, `_`, `-`, `/` or `.` (file names have no
/// spaces); the last line is truncated with ".." if text remains.
pub fn wrap_text(text: &str, scale: u32, max_width: u32, max_lines: usize) -> Vec<String> {
    let cap = chars_that_fit(scale, max_width);
    let mut out = Vec::new();
    if cap == 0 || max_lines == 0 {
        return out;
    }
    let mut rest: Vec<char> = text.trim().chars().collect();
    while !rest.is_empty() && out.len() < max_lines {
        if rest.len() <= cap {
            out.push(rest.iter().collect());
            break;
        }
        if out.len() + 1 == max_lines {
            out.push(fit_text(&rest.iter().collect::<String>(), scale, max_width));
            break;
        }
        // Last break character within the line, unless it would leave a stub line.
        let brk = (0..cap)
            .rev()
            .find(|&i| matches!(rest[i], ' ' | '_' | '-' | '/' | '.'))
            .filter(|&i| i + 1 >= cap / 3)
            .map(|i| i + 1)
            .unwrap_or(cap);
        let line: String = rest[..brk].iter().collect();
        out.push(line.trim_end().to_string());
        rest.drain(..brk);
        while rest.first() == Some(&' ') {
            rest.remove(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(text_width("", 2), 0);
        assert_eq!(text_width("A", 1), 5);
        assert_eq!(text_width("AB", 3), 33);
        assert_eq!(text_width("ab\nabcd", 1), 23);
        assert_eq!(text_height("x", 2), 16);
        assert_eq!(text_height("x\ny", 1), 18);
    }

    #[test]
    fn fit_and_wrap() {
        assert_eq!(fit_text("hello", 1, 100), "hello");
        let f = fit_text("hello world", 1, 40);
        assert!(text_width(&f, 1) <= 40, "{f}");
        assert!(f.ends_with(".."));
        let lines = wrap_text("Katsushika_Hokusai_The_Great_Wave_off", 1, 66, 3);
        assert!(lines.iter().all(|l| text_width(l, 1) <= 66), "{lines:?}");
        assert_eq!(lines, ["Katsushika_", "Hokusai_", "The_Great.."]);
        assert_eq!(wrap_text("a b", 1, 100, 2), ["a b"]);
        assert!(wrap_text("abc", 1, 3, 2).is_empty());
    }

    #[test]
    fn every_printable_ascii_has_a_real_glyph() {
        let unknown = glyph('\u{1}');
        for c in (0x21u8..0x7f).map(char::from) {
            assert_ne!(glyph(c), unknown, "missing glyph for {c:?}");
        }
    }
}
