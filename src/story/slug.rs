//! The slug rule that makes story ids short and predictable.

/// Apostrophes are dropped rather than turned into a separator, so that
/// "Hunt’s" gives `hunts` and not `hunt-s`.
const APOSTROPHES: &[char] = &['\'', '’', '‘', 'ʼ', '`', '´'];

/// Folds a headline to an id slug: ASCII, lower case, apostrophes dropped,
/// every other run of non-alphanumerics turned into one `-`, no `-` at the
/// ends.
///
/// Only letters and digits are transliterated (`é` → `e`); symbols such as `£`
/// are separators, so "£2bn extra" gives `2bn-extra`, not `ps2bn-extra`.
pub(crate) fn slugify(headline: &str) -> String {
    let mut slug = String::with_capacity(headline.len());
    let mut pending_dash = false;
    for c in headline.chars() {
        if APOSTROPHES.contains(&c) {
            continue;
        }
        if !c.is_alphanumeric() {
            pending_dash = true;
            continue;
        }
        let folded = if c.is_ascii() {
            c.to_string()
        } else {
            deunicode::deunicode_char(c).unwrap_or("").to_string()
        };
        for f in folded.chars() {
            if f.is_ascii_alphanumeric() {
                if pending_dash && !slug.is_empty() {
                    slug.push('-');
                }
                pending_dash = false;
                slug.push(f.to_ascii_lowercase());
            } else {
                pending_dash = true;
            }
        }
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn examples_from_the_issue() {
        assert_eq!(
            slugify("Bold ambition for mental health"),
            "bold-ambition-for-mental-health"
        );
        assert_eq!(
            slugify("Hunt’s integration ambition"),
            "hunts-integration-ambition"
        );
        assert_eq!(
            slugify("The DH in ‘special measures’"),
            "the-dh-in-special-measures"
        );
        assert_eq!(
            slugify("£2bn extra health and social care integration fund call"),
            "2bn-extra-health-and-social-care-integration-fund-call"
        );
    }

    #[test]
    fn punctuation_runs_become_one_dash_and_ends_are_trimmed() {
        assert_eq!(
            slugify("Reaction to Miliband: “We need a meaningful plan”"),
            "reaction-to-miliband-we-need-a-meaningful-plan"
        );
        assert_eq!(slugify("  --Hello,   world!--  "), "hello-world");
        assert_eq!(slugify("NHSE/I -- who?"), "nhse-i-who");
    }

    #[test]
    fn letters_are_folded_to_ascii() {
        assert_eq!(slugify("Café née Zoë"), "cafe-nee-zoe");
        assert_eq!(slugify("Straße"), "strasse");
        assert_eq!(slugify("ÆON"), "aeon");
    }

    #[test]
    fn apostrophes_of_every_kind_are_dropped() {
        assert_eq!(slugify("Don't stop"), "dont-stop");
        assert_eq!(slugify("Don’t stop"), "dont-stop");
        assert_eq!(slugify("King`s Fund"), "kings-fund");
    }

    #[test]
    fn nothing_alphanumeric_gives_an_empty_slug() {
        assert_eq!(slugify("£ – …"), "");
        assert_eq!(slugify(""), "");
    }

    #[test]
    fn digits_and_case() {
        assert_eq!(
            slugify("STP Lead Steps Down in 2018"),
            "stp-lead-steps-down-in-2018"
        );
    }
}
