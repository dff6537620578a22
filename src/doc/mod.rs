//! Markdown runbooks to the model: [`markdown`] holds the one pulldown-cmark setup,
//! [`front_matter`] the YAML header, [`attrs`] info strings, [`model`] the types and
//! [`steps`] the rules that turn blocks into steps.

pub mod attrs;
