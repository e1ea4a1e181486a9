//! The small pages a reader sees when they follow their unsubscribe link:
//! one question and one button each. maud escapes everything put in them.

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// What the page says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page<'a> {
    /// The link's GET: which newsletter, whose address, one button.
    Confirm { masked: &'a str, action: &'a str },
    /// After the POST.
    Unsubscribed {
        masked: &'a str,
        resubscribe: Resubscribe<'a>,
    },
    /// After "resubscribe".
    Resubscribed { masked: &'a str, action: &'a str },
    /// Already off the list when the link was opened; `None` when what
    /// took them off (a bounce, a complaint) is not theirs to undo here.
    AlreadyOff {
        masked: &'a str,
        resubscribe: Option<Resubscribe<'a>>,
    },
    /// A resubscribe the page may not do: a bounce or a complaint took the
    /// address off.
    NotResubscribed { masked: &'a str },
    /// A token that matches no reader: forged, mistyped, or from a list
    /// the reader has left. Says nothing about any address.
    NotValid,
    /// A request the page cannot act on.
    BadRequest(&'a str),
    /// The unsubscribe could not be recorded (a full disk): try again.
    NotRecorded,
    /// `/u/` itself, reached from an archived issue.
    UseYourLink,
    /// `/subscribe`: the form.
    SignUp {
        consent: &'a str,
        checkbox: bool,
        /// Why the last try was not taken, if it was not.
        problem: Option<&'a str>,
    },
    /// After the form: the same whoever the address is.
    CheckInbox,
    /// A confirmation link's GET: one button, which confirms.
    ConfirmSignUp {
        masked: &'a str,
        action: &'a str,
        form: &'a str,
    },
    /// Confirmed, before any issue has been sent (once one has, the
    /// latest issue is shown with [`joined_banner`] on top).
    Joined { masked: &'a str },
    /// A confirmation link past its date.
    Expired,
}

/// The resubscribe button: where it posts, and the form token that shows
/// the request came from this page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resubscribe<'a> {
    pub action: &'a str,
    pub form: &'a str,
}

/// Which newsletter the pages are for: its name and its language (`lang`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site<'a> {
    pub name: &'a str,
    pub language: &'a str,
}

impl Page<'_> {
    /// The page's title: what it says, then the newsletter.
    fn title(&self, newsletter: &str) -> String {
        let what = match self {
            Page::Confirm { .. } => "Unsubscribe?",
            Page::Unsubscribed { .. } => "You are unsubscribed",
            Page::Resubscribed { .. } => "You are subscribed again",
            Page::AlreadyOff { .. } => "You are already unsubscribed",
            Page::NotResubscribed { .. } | Page::BadRequest(_) => "Nothing was changed",
            Page::NotValid => "This link is not valid",
            Page::NotRecorded => "Please try again",
            Page::UseYourLink => "Unsubscribe",
            Page::SignUp { .. } => "Subscribe",
            Page::CheckInbox => "Check your inbox",
            Page::ConfirmSignUp { .. } => "Confirm your subscription",
            Page::Joined { .. } => "You are subscribed",
            Page::Expired => "This link has expired",
        };
        format!("{what} · {newsletter}")
    }
}

/// The page, as a whole HTML document.
pub(crate) fn render(site: Site<'_>, page: Page<'_>) -> String {
    let newsletter = site.name;
    let body = match page {
        Page::Confirm { masked, action } => html! {
            h1 { "Unsubscribe from " (newsletter) "?" }
            p { "This will stop " (newsletter) " emails to " strong { (masked) } "." }
            (button(action, "Unsubscribe", "List-Unsubscribe", "One-Click"))
        },
        Page::Unsubscribed {
            masked,
            resubscribe,
        } => html! {
            h1 { "You are unsubscribed" }
            p { strong { (masked) } " will get no more " (newsletter) " emails." }
            p { "Changed your mind?" }
            (button(resubscribe.action, "Resubscribe", "form", resubscribe.form))
        },
        Page::Resubscribed { masked, action } => html! {
            h1 { "You are subscribed again" }
            p { strong { (masked) } " will get " (newsletter) " again from the next issue." }
            (button(action, "Unsubscribe", "List-Unsubscribe", "One-Click"))
        },
        Page::AlreadyOff {
            masked,
            resubscribe,
        } => html! {
            h1 { "You are already unsubscribed" }
            p { strong { (masked) } " gets no " (newsletter) " emails." }
            @match resubscribe {
                Some(resubscribe) => (button(resubscribe.action, "Resubscribe", "form", resubscribe.form)),
                None => p { "To be sent to again, reply to any issue and ask the editor." },
            }
        },
        Page::NotResubscribed { masked } => html! {
            h1 { "Nothing was changed" }
            p { strong { (masked) } " was taken off the list because mail to it was returned or reported, which this page cannot undo. To be sent to again, reply to any issue and ask the editor." }
        },
        Page::NotValid => html! {
            h1 { "This link is not valid" }
            p { "It may have been copied incompletely. Use the unsubscribe link in the email itself, or reply to the email and ask to be taken off the list." }
        },
        Page::BadRequest(why) => html! {
            h1 { "Nothing was changed" }
            p { (why) }
        },
        Page::NotRecorded => html! {
            h1 { "Please try again" }
            p { "Your request could not be recorded just now, so nothing was changed. Try again in a few minutes." }
        },
        Page::UseYourLink => html! {
            h1 { "Unsubscribe from " (newsletter) }
            p { "Use the unsubscribe link at the foot of the email you received: it is yours alone." }
        },
        Page::SignUp {
            consent,
            checkbox,
            problem,
        } => sign_up(newsletter, consent, checkbox, problem),
        Page::CheckInbox => html! {
            h1 { "Check your inbox" }
            p { "If that address can be subscribed, a message is on its way to it with a link to confirm. Nothing is sent until you do." }
            p { "No message within an hour? Look in your junk folder, or try again later." }
        },
        Page::ConfirmSignUp {
            masked,
            action,
            form,
        } => html! {
            h1 { "One more step" }
            p { "Press the button to start getting " (newsletter) " at " strong { (masked) } "." }
            (button(action, "Confirm my subscription", "form", form))
        },
        Page::Joined { masked } => html! {
            h1 { "You are subscribed" }
            p { strong { (masked) } " will get " (newsletter) " from the next issue." }
        },
        Page::Expired => html! {
            h1 { "This link has expired" }
            p { "Nothing was changed. To subscribe, " a href="../subscribe" { "sign up again" } "." }
        },
    };
    document(site, &page.title(newsletter), &body)
}

/// The sign-up form. `website` is a trap for bots that fill in every
/// field: hidden from people (and from screen readers), it must stay empty.
fn sign_up(newsletter: &str, consent: &str, checkbox: bool, problem: Option<&str>) -> Markup {
    html! {
        h1 { "Subscribe to " (newsletter) }
        @if let Some(problem) = problem {
            p.problem role="alert" { (problem) }
        }
        form method="post" action="subscribe" {
            label for="email" { "Email address" }
            input #email type="email" name="email" required autocomplete="email";
            label for="name" { "Name (optional)" }
            input #name type="text" name="name" autocomplete="name" maxlength="200";
            div.trap aria-hidden="true" {
                label for="website" { "Leave this empty" }
                input #website type="text" name="website" tabindex="-1" autocomplete="off";
            }
            @if checkbox {
                p.consent {
                    input #consent type="checkbox" name="consent" value="yes" required;
                    " " label for="consent" { (consent) }
                }
            } @else {
                p.consent { (consent) }
                input type="hidden" name="consent" value="yes";
            }
            button type="submit" { "Subscribe" }
        }
    }
}

/// The line put on top of the latest issue once a reader confirms.
pub(crate) fn joined_banner(newsletter: &str, masked: &str) -> String {
    html! {
        div role="status" style="margin:0;padding:16px;background:#e3f1e7;color:#1f2933;font:17px/1.5 Helvetica,Arial,sans-serif;text-align:center" {
            strong { "You are subscribed." }
            " " (masked) " will get " (newsletter) " from the next issue. Here is the latest:"
        }
    }
    .into_string()
}

fn button(action: &str, label: &str, name: &str, value: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name=(name) value=(value);
            button type="submit" { (label) }
        }
    }
}

/// The one shell every page of the service has: its title, the
/// newsletter's language, a main landmark, light and dark.
fn document(site: Site<'_>, title: &str, body: &Markup) -> String {
    html! {
        (DOCTYPE)
        html lang=(site.language) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                meta name="color-scheme" content="light dark";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { main { (body) } }
        }
    }
    .into_string()
}

const CSS: &str = "body{margin:0;background:#eef1f4;font:17px/1.5 Helvetica,Arial,sans-serif;color:#1f2933}main{max-width:520px;margin:48px auto;padding:24px;background:#fff}h1{font:bold 24px/1.3 Georgia,serif;margin:0 0 16px}button{font:bold 17px Helvetica,Arial,sans-serif;padding:12px 20px;border:0;background:#0b4f6c;color:#fff;cursor:pointer}label{display:block;margin:12px 0 4px;font-weight:bold}p.consent label{display:inline;font-weight:normal}input[type=email],input[type=text]{box-sizing:border-box;width:100%;font:17px Helvetica,Arial,sans-serif;padding:8px;border:1px solid #52606d}.trap{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}.problem{color:#8a1c1c;font-weight:bold}a{color:#0b4f6c}@media (prefers-color-scheme:dark){body{background:#11181f;color:#e4e7eb}main{background:#1f2933}button{background:#7cc4e4;color:#11181f}input[type=email],input[type=text]{background:#11181f;color:#e4e7eb;border-color:#9aa5b1}.problem{color:#ffb4a8}a{color:#7cc4e4}}";

/// `ann@nhs.example` as `a***@nhs.example`: enough for a reader to know it
/// is theirs, not enough to read off a screen.
pub(crate) fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((user, domain)) => {
            let first: String = user.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_masked_but_its_domain_kept() {
        assert_eq!(mask("ann@nhs.example"), "a***@nhs.example");
        assert_eq!(mask("é@x.example"), "é***@x.example");
    }

    #[test]
    fn the_confirm_page_has_one_button_that_posts_the_one_click_field() {
        let page = render(
            Site {
                name: "HSJ <Catch> Up",
                language: "en-GB",
            },
            Page::Confirm {
                masked: "a***@nhs.example",
                action: "https://news.hsj.example/u/TOKEN",
            },
        );
        assert!(page.contains("HSJ &lt;Catch&gt; Up"), "escaped: {page}");
        assert!(page.contains(r#"<html lang="en-GB">"#), "{page}");
        assert!(
            page.contains("<title>Unsubscribe? · HSJ &lt;Catch&gt; Up</title>"),
            "{page}"
        );
        assert_eq!(page.matches("<form").count(), 1);
        assert!(page.contains(r#"<form method="post" action="https://news.hsj.example/u/TOKEN"><input type="hidden" name="List-Unsubscribe" value="One-Click">"#), "{page}");
    }
}
