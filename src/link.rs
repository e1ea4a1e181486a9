//! What counts as a link catchup will put into an email: an absolute
//! `http://` or `https://` URL with a host and no white space. One rule, used
//! for story links, the unsubscribe URL and every other link in the settings.

/// Checks a link an editor wrote. `Ok` gives it back trimmed.
///
/// # Errors
/// Why the link cannot go into an email, in words.
pub(crate) fn check(text: &str) -> Result<&str, String> {
    let link = text.trim();
    if link.chars().any(char::is_whitespace) {
        return Err(format!(
            "the link `{link}` contains a space; write spaces as %20, or check it was pasted whole"
        ));
    }
    let url = url::Url::parse(link).map_err(|e| format!("`{link}` is not a link: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the link `{link}` must start with https:// or http://"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("the link `{link}` has no host"));
    }
    Ok(link)
}

/// Checks a link in an editor's text: a web link as [`check`] wants it, or
/// a `mailto:` address.
///
/// # Errors
/// Why the link cannot go into an email, in words.
pub(crate) fn check_in_text(text: &str) -> Result<&str, String> {
    let link = text.trim();
    let Some(address) = link.strip_prefix("mailto:") else {
        return check(link)
            .map_err(|why| why.replace("https:// or http://", "https://, http:// or mailto:"));
    };
    if link.chars().any(char::is_whitespace) {
        return Err(format!("the link `{link}` contains a space"));
    }
    if !address.contains('@') {
        return Err(format!("the link `{link}` names no email address"));
    }
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::{check, check_in_text};

    #[test]
    fn text_links_may_also_be_mailto() {
        assert_eq!(
            check_in_text("mailto:ed@hsj.example"),
            Ok("mailto:ed@hsj.example")
        );
        assert!(check_in_text("mailto:nobody").is_err());
        assert!(
            check_in_text("ftp://x.example/")
                .expect_err("ftp")
                .contains("https://, http:// or mailto:")
        );
    }

    #[test]
    fn web_links_pass_and_everything_else_says_why() {
        assert_eq!(
            check(" https://hsj.example/a?b=c "),
            Ok("https://hsj.example/a?b=c")
        );
        assert!(check("http://hsj.example").is_ok());
        let err = |s| check(s).expect_err(s);
        assert!(err("https://hsj.example/a b").contains("contains a space"));
        assert!(err("ftp://hsj.example/x").contains("must start with https://"));
        assert!(err("javascript:alert(1)").contains("must start with https://"));
        assert!(err("hsj.example/x").contains("is not a link"));
    }
}
