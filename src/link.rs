//! What counts as a link catchup will put into an email: an absolute
//! `http://` or `https://` URL with a host and no white space. One rule, used
//! for story links, the unsubscribe URL and every other link in the settings;
//! an editor's text may also link a `mailto:` address.

/// Why a link cannot go into an email.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LinkError {
    #[error("the link `{0}` contains a space; write spaces as %20, or check it was pasted whole")]
    Space(String),
    #[error("`{link}` is not a link: {reason}")]
    Unreadable {
        link: String,
        reason: url::ParseError,
    },
    #[error("the link `{link}` must start with {}", if *.mailto { "https://, http:// or mailto:" } else { "https:// or http://" })]
    Scheme { link: String, mailto: bool },
    #[error("the link `{0}` has no host")]
    NoHost(String),
    #[error("the link `{0}` names no email address")]
    NoAddress(String),
}

/// Checks a link an editor wrote. `Ok` gives it back trimmed.
///
/// # Errors
/// Why the link cannot go into an email.
pub(crate) fn check(text: &str) -> Result<&str, LinkError> {
    web(text.trim(), false)
}

/// Checks a link in an editor's text: a web link as [`check`] wants it, or
/// a `mailto:` address.
///
/// # Errors
/// Why the link cannot go into an email.
pub(crate) fn check_in_text(text: &str) -> Result<&str, LinkError> {
    let link = text.trim();
    let Some(address) = link.strip_prefix("mailto:") else {
        return web(link, true);
    };
    if link.chars().any(char::is_whitespace) {
        return Err(LinkError::Space(link.into()));
    }
    if !address.contains('@') {
        return Err(LinkError::NoAddress(link.into()));
    }
    Ok(link)
}

/// A web link; `mailto` says whether the caller would also take `mailto:`.
fn web(link: &str, mailto: bool) -> Result<&str, LinkError> {
    if link.chars().any(char::is_whitespace) {
        return Err(LinkError::Space(link.into()));
    }
    let url = url::Url::parse(link).map_err(|reason| LinkError::Unreadable {
        link: link.into(),
        reason,
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(LinkError::Scheme {
            link: link.into(),
            mailto,
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(LinkError::NoHost(link.into()));
    }
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::{LinkError, check, check_in_text};

    #[test]
    fn text_links_may_also_be_mailto() {
        assert_eq!(
            check_in_text("mailto:ed@hsj.example"),
            Ok("mailto:ed@hsj.example")
        );
        assert_eq!(
            check_in_text("mailto:nobody"),
            Err(LinkError::NoAddress("mailto:nobody".into()))
        );
        assert_eq!(
            check_in_text("ftp://x.example/").map_err(|e| e.to_string()),
            Err("the link `ftp://x.example/` must start with https://, http:// or mailto:".into())
        );
    }

    #[test]
    fn web_links_pass_and_everything_else_says_why() {
        assert_eq!(
            check(" https://hsj.example/a?b=c "),
            Ok("https://hsj.example/a?b=c")
        );
        assert!(check("http://hsj.example").is_ok());
        let err = |s| check(s).expect_err(s).to_string();
        assert_eq!(
            err("https://hsj.example/a b"),
            "the link `https://hsj.example/a b` contains a space; write spaces as %20, or check it was pasted whole"
        );
        assert_eq!(
            err("ftp://hsj.example/x"),
            "the link `ftp://hsj.example/x` must start with https:// or http://"
        );
        assert_eq!(
            err("javascript:alert(1)"),
            "the link `javascript:alert(1)` must start with https:// or http://"
        );
        assert_eq!(
            err("hsj.example/x"),
            "`hsj.example/x` is not a link: relative URL without a base"
        );
        assert_eq!(err("http://"), "`http://` is not a link: empty host");
    }
}
