//! The style gallery: the paintings of `--styles`, read once at startup and kept in memory,
//! and the served model's own collection when it has one (a fine-tune's paintings).
//! Clients name a style by its id; no path from a client ever reaches the file system.

use std::path::Path;
use std::sync::Arc;

use stylize_io::{Limits, OutputFormat, RgbImage, SaveOptions};

use crate::error::ServerError;

/// Longer side of gallery thumbnails.
pub const THUMBNAIL_SIDE: u32 = 192;

pub struct GalleryStyle {
    /// URL-safe, unique, derived from the name.
    pub id: String,
    /// For people: the file name without its source prefix, underscores as spaces.
    pub name: String,
    pub source: GallerySource,
    /// JPEG bytes.
    pub thumbnail: Vec<u8>,
}

/// What a gallery style is made from.
#[derive(Clone)]
pub enum GallerySource {
    /// A painting at the style size, as the workers use it.
    Painting(Arc<RgbImage>),
    /// The served model's collection, its paintings mixed equally (each worker's stylizer
    /// holds the codes: see `Stylizer::with_collection`).
    Collection { paintings: usize },
}

impl GallerySource {
    /// For the API: "painting" or "collection".
    pub fn kind(&self) -> &'static str {
        match self {
            GallerySource::Painting(_) => "painting",
            GallerySource::Collection { .. } => "collection",
        }
    }
}

#[derive(Default)]
pub struct Gallery {
    styles: Vec<GalleryStyle>,
}

impl Gallery {
    /// Reads every image in `dir` (sorted by name), resized so the longer side is `style_side`.
    /// A painting that cannot be used (unreadable, or too thin once resized) refuses the whole
    /// folder, naming the file: better a clear error at startup than a style that fails later.
    pub fn load(dir: &Path, style_side: u32) -> Result<Self, ServerError> {
        let err = |detail: String| ServerError::Styles { path: dir.display().to_string(), detail };
        let files = stylize_train::data::list_images(dir).map_err(|e| err(e.to_string()))?;
        if files.is_empty() {
            return Err(err("no images in this folder".into()));
        }
        let mut styles: Vec<GalleryStyle> = Vec::with_capacity(files.len());
        for file in files {
            let img = stylize_io::load(&file, &Limits::default()).map_err(|e| err(e.to_string()))?;
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let name = display_name(&stem);
            let id = unique_id(&styles, slug(&name));
            let thumb = stylize_io::resize_to_max_side(&img.rgb, THUMBNAIL_SIDE, false);
            let opts = SaveOptions { jpeg_quality: 85, metadata: vec![] };
            let thumbnail = stylize_io::encode_to_vec(&thumb, None, OutputFormat::Jpeg, &opts, &id).map_err(|e| err(e.to_string()))?;
            let sized = stylize_pipeline::fit(&img.rgb, stylize_pipeline::Sizing::Exact(style_side))
                .map_err(|e| err(format!("{}: {e}", file.display())))?;
            let source = GallerySource::Painting(Arc::new(sized));
            styles.push(GalleryStyle { id, name, source, thumbnail });
        }
        Ok(Gallery { styles })
    }

    /// Puts the served model's collection first (the style an artist's model is for):
    /// `name` is the collection's, `thumbnail` JPEG bytes (the model folder's
    /// `collection.jpg`, or any image that stands for it).
    pub fn add_collection(&mut self, name: &str, paintings: usize, thumbnail: Vec<u8>) {
        let name = format!("{} collection", display_name(name));
        let id = unique_id(&self.styles, slug(&name));
        self.styles.insert(0, GalleryStyle { id, name, source: GallerySource::Collection { paintings }, thumbnail });
    }

    pub fn get(&self, id: &str) -> Option<&GalleryStyle> {
        self.styles.iter().find(|s| s.id == id)
    }

    pub fn styles(&self) -> &[GalleryStyle] {
        &self.styles
    }
}

/// `base`, or `base-2`, `base-3`... whichever no style has yet.
fn unique_id(styles: &[GalleryStyle], base: String) -> String {
    let mut id = base.clone();
    let mut n = 2;
    while styles.iter().any(|s| s.id == id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// Lower-case ASCII letters and digits, runs of anything else as one `-`.
pub fn slug(stem: &str) -> String {
    let mut out = String::new();
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "style".into()
    } else {
        out
    }
}

/// `source__painting_Claude_Monet_Water_Lilies` -> `Claude Monet Water Lilies`.
pub fn display_name(stem: &str) -> String {
    let tail = stem.rsplit("__").next().unwrap_or(stem);
    let tail = tail.strip_prefix("painting_").unwrap_or(tail);
    tail.split(['_', '-']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slug("gcompris__painting_Albrecht_D_rer_Lion_1494"), "gcompris-painting-albrecht-d-rer-lion-1494");
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("Öl auf Leinwand!"), "l-auf-leinwand");
        assert_eq!(slug("???"), "style");
    }

    #[test]
    fn names_drop_the_source_prefix() {
        assert_eq!(display_name("gcompris__painting_Claude_Monet_Water_Lilies"), "Claude Monet Water Lilies");
        assert_eq!(display_name("my-own_sketch"), "my own sketch");
    }
}
