//! The email's stylesheet, in two halves: [`inline_rules`], which css-inline
//! moves into `style` attributes, and [`media_rules`], which stay in a
//! `<style>` block for phones and dark mode. A client that drops `<style>`
//! still gets the whole inlined look.

use crate::config::Colours;

/// Arial first: Outlook on Windows uses only the first font of a stack it
/// does not know, and falls back to Times New Roman.
const SANS: &str = "Arial,Helvetica,sans-serif";
const SERIF: &str = "Georgia,'Times New Roman',serif";

/// Padding left and right of the column's content.
const SIDE: &str = "32px";

/// The rules to inline, with the newsletter's colours filled in. Spacing is
/// only ever a cell's padding; text elements have their margins set to 0,
/// so that every client (Outlook's Word engine included) spaces alike.
pub(crate) fn inline_rules(c: &Colours) -> String {
    let (brand, text, muted, bg) = (&c.brand, &c.text, &c.muted, &c.background);
    let exact = "mso-line-height-rule:exactly";
    format!(
        "body{{margin:0;padding:0;width:100%;background-color:{bg};-webkit-text-size-adjust:100%;-ms-text-size-adjust:100%}}
table{{border-collapse:collapse;mso-table-lspace:0pt;mso-table-rspace:0pt}}
p,h1,h2,h3,h4,ul,ol,li{{margin:0;padding:0}}
.wrapper{{background-color:{bg}}}
.wrapper-cell{{padding:24px 0}}
.container{{max-width:600px;background-color:#ffffff}}
.view-online{{padding:10px {SIDE};background-color:{bg};font-family:{SANS};font-size:14px;line-height:20px;{exact};text-align:right;color:{muted}}}
.view-online-link{{color:{muted};text-decoration:underline}}
.masthead-name{{padding:28px {SIDE} 0;background-color:{brand}}}
.masthead-tagline{{padding:6px {SIDE} 0;background-color:{brand}}}
.masthead-date{{padding:14px {SIDE} 24px;background-color:{brand}}}
.name{{font-family:{SERIF};font-size:32px;line-height:38px;{exact};font-weight:bold;color:#ffffff}}
.tagline{{font-family:{SANS};font-size:16px;line-height:22px;{exact};color:#ffffff}}
.issue-date{{font-family:{SANS};font-size:14px;line-height:20px;{exact};font-weight:bold;letter-spacing:1px;text-transform:uppercase;color:#ffffff}}
.intro-cell{{padding:16px {SIDE} 0}}
.first{{padding-top:24px}}
p{{font-family:{SANS};font-size:16px;line-height:24px;{exact};color:{text}}}
.intro{{font-size:17px;line-height:26px}}
.contents-outer{{padding:20px {SIDE} 0}}
.contents{{background-color:{bg}}}
.contents-head{{padding:14px 18px 8px}}
.contents-body{{padding:0 18px 8px 38px}}
.contents-title{{font-family:{SANS};font-size:14px;line-height:20px;{exact};font-weight:bold;letter-spacing:1px;text-transform:uppercase;color:{brand}}}
.contents-item{{font-size:15px;line-height:24px}}
.section-cell{{padding:28px {SIDE} 6px;border-bottom:3px solid {brand}}}
.section-title{{font-family:{SANS};font-size:15px;line-height:20px;{exact};font-weight:bold;letter-spacing:1px;text-transform:uppercase;color:{brand}}}
.story-cell{{padding:20px {SIDE} 4px;border-bottom:1px solid #d5dbe1}}
.headline-cell{{padding:0 0 6px}}
.headline{{font-family:{SERIF};font-size:22px;line-height:28px;{exact};font-weight:bold;color:{text}}}
.headline-link{{color:{brand};text-decoration:underline}}
.byline-cell{{padding:0 0 12px}}
.byline{{font-size:14px;line-height:20px;color:{muted}}}
.block-cell{{padding:0 0 16px}}
.subhead-cell{{padding:4px 0 8px}}
.subhead{{font-family:{SANS};font-size:17px;line-height:24px;{exact};font-weight:bold;color:{text}}}
.list-cell{{padding:0 0 16px 24px}}
li{{font-family:{SANS};font-size:16px;line-height:26px;{exact};color:{text}}}
code{{font-family:Consolas,Menlo,monospace;font-size:15px}}
a{{color:{brand};text-decoration:underline}}
.more{{font-weight:bold}}
.footer-first{{padding:24px {SIDE} 8px}}
.footer-cell{{padding:0 {SIDE} 8px}}
.footer-last{{padding:0 {SIDE} 32px}}
.footer-text{{font-size:14px;line-height:20px;color:{muted}}}
"
    )
}

/// The @media rules that stay in `<style>`: a narrower layout under 620px,
/// and dark mode for clients that honour it. In dark mode the rules keep
/// their order of weight: the section rule bright and thick, the rules
/// between stories dim and thin.
pub(crate) fn media_rules() -> &'static str {
    MEDIA
}

const MEDIA: &str = "@media screen and (max-width:620px){.wrapper-cell{padding:0 !important}.view-online,.masthead-name,.masthead-tagline,.masthead-date,.intro-cell,.contents-outer,.section-cell,.story-cell,.footer-first,.footer-cell,.footer-last{padding-left:16px !important;padding-right:16px !important}.name{font-size:26px !important;line-height:32px !important}.headline{font-size:20px !important;line-height:26px !important}}
@media (prefers-color-scheme:dark){.wrapper,.view-online{background-color:#111417 !important}.container{background-color:#1b1f24 !important}.contents{background-color:#262c33 !important}p,li,.headline,.subhead{color:#e6e9ec !important}.byline,.footer-text,.view-online,.view-online-link{color:#b4bec8 !important}a,.headline-link,.section-title,.contents-title{color:#8cc8ea !important}.section-cell{border-bottom-color:#8cc8ea !important}.story-cell{border-bottom-color:#3d4751 !important}.name,.tagline,.issue-date{color:#ffffff !important}}";
