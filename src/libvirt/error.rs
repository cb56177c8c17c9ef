//! The front end's own error: a domain XML that cannot be read.

use thiserror::Error;

/// A domain XML that cannot be read (front-end errors).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Not well-formed XML, or a forbidden construct (DTD).
    #[error("{0}")]
    Syntax(String),
    /// The root element is not `<domain>`.
    #[error("expected root element <domain>, found <{0}>")]
    WrongRoot(String),
    /// A required element is missing.
    #[error("missing element {0}")]
    Missing(&'static str),
    /// An attribute value is malformed.
    #[error("Invalid value for attribute '{attr}' in element '{element}': '{value}'. {reason}")]
    Attribute {
        /// Element name.
        element: String,
        /// Attribute name.
        attr: String,
        /// The value.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A definition libvirt's parser rejects, in libvirt's words (e.g.
    /// `invalid NUMA node in target`).
    #[error("{0}")]
    Rejected(String),
    /// Anything else, with the element it concerns.
    #[error("{element}: {message}")]
    Invalid {
        /// Element path or name.
        element: String,
        /// What is wrong.
        message: String,
    },
}
