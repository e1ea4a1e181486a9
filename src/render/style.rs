//! The email's stylesheet, in two halves: [`inline_rules`], which css-inline
//! moves into `style` attributes, and [`media_rules`], which stay in a
//! `<style>` block for phones and dark mode. A client that drops `<style>`
//! still gets the whole inlined look.

use crate::config::Colours;

const SANS: &str = "Helvetica,Arial,sans-serif";
const SERIF: &str = "Georgia,'Times New Roman',serif";

/// The rules to inline, with the newsletter's colours filled in.
pub fn inline_rules(c: &Colours) -> String {
    let (brand, text, muted, bg) = (&c.brand, &c.text, &c.muted, &c.background);
    format!(
        "body{{margin:0;padding:0;width:100%;background-color:{bg};-webkit-text-size-adjust:100%;-ms-text-size-adjust:100%}}
table{{border-collapse:collapse;mso-table-lspace:0pt;mso-table-rspace:0pt}}
.wrapper{{background-color:{bg}}}
.wrapper-cell{{padding:24px 0}}
.container{{max-width:600px;margin:0 auto;background-color:#ffffff}}
.view-online{{padding:10px 32px;background-color:{bg};font-family:{SANS};font-size:13px;line-height:18px;text-align:right;color:{muted}}}
.view-online-link{{color:{muted};text-decoration:underline}}
.masthead{{padding:28px 32px 24px;background-color:{brand}}}
.name{{margin:0;font-family:{SERIF};font-size:32px;line-height:38px;font-weight:bold;color:#ffffff}}
.tagline{{margin:6px 0 0;font-family:{SANS};font-size:15px;line-height:22px;color:#ffffff}}
.issue-date{{margin:14px 0 0;font-family:{SANS};font-size:13px;line-height:18px;font-weight:bold;letter-spacing:1px;text-transform:uppercase;color:#ffffff}}
.content{{padding:16px 32px 8px}}
p{{margin:0 0 16px;font-family:{SANS};font-size:16px;line-height:24px;color:{text}}}
.intro{{font-size:17px;line-height:26px}}
.section-title{{margin:28px 0 0;padding:0 0 6px;border-bottom:3px solid {brand};font-family:{SANS};font-size:14px;line-height:20px;font-weight:bold;letter-spacing:1px;text-transform:uppercase;color:{brand}}}
.story{{padding:20px 0 4px;border-bottom:1px solid #d5dbe1}}
.headline{{margin:0 0 6px;font-family:{SERIF};font-size:22px;line-height:28px;font-weight:bold;color:{text}}}
.headline-link{{color:{brand};text-decoration:underline}}
.contents{{margin:8px 0 4px;padding:14px 18px 6px;background-color:{bg}}}
.contents-title{{margin:0 0 8px;font-size:13px;line-height:18px;font-weight:bold;letter-spacing:1px;text-transform:uppercase;color:{brand}}}
.contents-list{{margin:0 0 8px;padding:0 0 0 20px}}
.contents-item{{margin:0 0 6px;font-size:15px;line-height:22px}}
.byline{{margin:0 0 12px;font-size:14px;line-height:20px;color:{muted}}}
h3{{margin:20px 0 8px;font-family:{SANS};font-size:17px;line-height:24px;font-weight:bold;color:{text}}}
ul,ol{{margin:0 0 16px;padding:0 0 0 24px}}
code{{font-family:Consolas,Menlo,monospace;font-size:15px}}
li{{margin:0 0 8px;font-family:{SANS};font-size:16px;line-height:24px;color:{text}}}
a{{color:{brand};text-decoration:underline}}
.more{{font-weight:bold}}
.footer{{padding:24px 32px 32px}}
.footer-text{{margin:0 0 8px;font-size:13px;line-height:20px;color:{muted}}}
"
    )
}

/// The @media rules that stay in `<style>`: a narrower layout under 620px,
/// and dark mode for clients that honour it.
pub fn media_rules() -> &'static str {
    MEDIA
}

const MEDIA: &str = "@media screen and (max-width:620px){.wrapper-cell{padding:0 !important}.masthead{padding:20px 16px !important}.content{padding:12px 16px 4px !important}.footer{padding:20px 16px 28px !important}.name{font-size:26px !important;line-height:32px !important}.headline{font-size:20px !important;line-height:26px !important}}
@media (prefers-color-scheme:dark){.wrapper{background-color:#111417 !important}.container{background-color:#1b1f24 !important}.contents{background-color:#23282e !important}p,li,h3,.headline{color:#e6e9ec !important}.byline,.footer-text{color:#b4bec8 !important}a,.headline-link,.section-title,.contents-title{color:#8cc8ea !important}}";
