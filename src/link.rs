//! What counts as a link catchup will put into an email: an absolute
//! `http://` or `https://` URL with a host and no white space. One rule, used
//! for story links, the unsubscribe URL and every other link in the settings.

/// Checks a link an editor wrote. `Ok` gives it back trimmed.
///
/// # Errors
/// Why the link cannot go into an email, in words.
pub fn check(text: &str) -> Result<&str, String> {
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

#[cfg(test)]
mod tests {
    use super::check;

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
