//! The property a violation names. A world may open a violation's message with a tag in square
//! brackets (`[leak] client 3 ...`, `[duplicate_id] ...`); an untagged message names the
//! property [`UNCLASSIFIED`]. The driver's `--expect-property` and CI's must-fail runs compare
//! tags, so a run that must fail fails for the expected reason and not for any other.

/// The property of an untagged violation.
pub const UNCLASSIFIED: &str = "unclassified";

/// The tag `message` opens with (lower-case letters, digits and `_` in square brackets), or
/// [`UNCLASSIFIED`].
pub fn property_of(message: &str) -> &str {
    let tag = message.strip_prefix('[').and_then(|rest| rest.split_once(']')).map(|(tag, _)| tag);
    match tag {
        Some(tag)
            if !tag.is_empty()
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            tag
        }
        _ => UNCLASSIFIED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_names_the_property_and_anything_else_is_unclassified() {
        assert_eq!(property_of("[leak] liveness: leak: session 3"), "leak");
        assert_eq!(property_of("[duplicate_id] session id 7 issued twice"), "duplicate_id");
        assert_eq!(property_of("liveness: client 0 expected a ready session"), UNCLASSIFIED);
        assert_eq!(property_of("[] empty"), UNCLASSIFIED);
        assert_eq!(property_of("[Not A Tag] text"), UNCLASSIFIED);
        assert_eq!(property_of("[unclosed"), UNCLASSIFIED);
        assert_eq!(property_of(""), UNCLASSIFIED);
    }
}
