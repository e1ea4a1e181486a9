#!/usr/bin/env python3
"""Writes an MJML document for an issue: the same masthead, intro, sections,
stories (shortened the same way), footer and colours that catchup renders, so
that `bench/compose.sh` compares the two compilers on comparable work.

Usage: mjml_issue.py STORIES.json NEWSLETTER.toml ISSUE.toml > issue.mjml
"""

import html
import json
import sys
import tomllib


def esc(text):
    return html.escape(text, quote=True)


def shorten(blocks, limit):
    """catchup's rule: keep blocks up to the N-th paragraph, no trailing subhead."""
    if limit is None:
        return blocks, False
    seen = 0
    for i, block in enumerate(blocks):
        if block["kind"] == "paragraph":
            seen += 1
            if seen > limit:
                kept = blocks[:i]
                while kept and kept[-1]["kind"] == "subhead":
                    kept.pop()
                return kept, True
    return blocks, False


def story_mjml(story, pick, colours):
    blocks, shortened = shorten(story["blocks"], pick.get("paragraphs"))
    url = pick.get("url")
    headline = esc(pick.get("headline") or story["headline"])
    if url:
        headline = f'<a href="{esc(url)}" style="color:{colours["text"]};text-decoration:none">{headline}</a>'
    out = [
        f'<mj-text font-family="Georgia,serif" font-size="22px" line-height="28px" '
        f'font-weight="bold" padding="20px 0 6px"><h2 style="margin:0;font-size:22px">{headline}</h2></mj-text>'
    ]
    byline = [p for p in [story.get("author"), story.get("published")] if p]
    if byline:
        out.append(f'<mj-text font-size="14px" color="{colours["muted"]}" padding="0 0 12px">{esc(" · ".join(byline))}</mj-text>')
    for block in blocks:
        if block["kind"] == "paragraph":
            out.append(f"<mj-text>{esc(block['text'])}</mj-text>")
        elif block["kind"] == "subhead":
            out.append(f'<mj-text font-size="17px" font-weight="bold"><h3 style="margin:0">{esc(block["text"])}</h3></mj-text>')
        else:
            items = "".join(f"<li>{esc(item)}</li>" for item in block["items"])
            out.append(f'<mj-text><ul style="margin:0;padding:0 0 0 24px">{items}</ul></mj-text>')
    if shortened and url:
        out.append(f'<mj-text font-weight="bold"><a href="{esc(url)}" style="color:{colours["brand"]}">Read more</a></mj-text>')
    out.append('<mj-divider border-width="1px" border-color="#d5dbe1" padding="4px 0 0" />')
    return "\n".join(out)


def main():
    stories_path, newsletter_path, issue_path = sys.argv[1:4]
    stories = {s["id"]: s for s in json.load(open(stories_path, encoding="utf-8"))}
    newsletter = tomllib.load(open(newsletter_path, "rb"))
    issue = tomllib.load(open(issue_path, "rb"))
    colours = newsletter.get("colours", {})
    intro = issue.get("intro") or newsletter.get("intro", "")

    body = []
    for section in issue["sections"]:
        body.append(
            f'<mj-text font-size="14px" font-weight="bold" color="{colours["brand"]}" '
            f'text-transform="uppercase" padding="28px 0 6px">{esc(section["title"])}</mj-text>'
        )
        body.append(f'<mj-divider border-width="3px" border-color="{colours["brand"]}" padding="0" />')
        for pick in section["stories"]:
            pick = {"id": pick} if isinstance(pick, str) else pick
            body.append(story_mjml(stories[pick["id"]], pick, colours))

    print(f"""<mjml lang="{esc(newsletter.get('language', 'en-GB'))}">
  <mj-head>
    <mj-title>{esc(issue['subject'])}</mj-title>
    <mj-preview>{esc(issue.get('preheader', newsletter['tagline']))}</mj-preview>
    <mj-attributes>
      <mj-all font-family="Helvetica,Arial,sans-serif" />
      <mj-text font-size="16px" line-height="24px" color="{colours['text']}" padding="0 0 16px" />
    </mj-attributes>
    <mj-style>@media (prefers-color-scheme:dark){{.body{{background-color:#111417 !important}}}}</mj-style>
  </mj-head>
  <mj-body background-color="{colours['background']}" width="600px" css-class="body">
    <mj-section background-color="{colours['brand']}" padding="28px 32px 24px">
      <mj-column>
        <mj-text font-family="Georgia,serif" font-size="32px" line-height="38px" font-weight="bold" color="#ffffff" padding="0"><h1 style="margin:0;font-size:32px">{esc(newsletter['name'])}</h1></mj-text>
        <mj-text font-size="15px" color="#ffffff" padding="6px 0 0">{esc(newsletter['tagline'])}</mj-text>
        <mj-text font-size="13px" font-weight="bold" color="#ffffff" padding="14px 0 0">{issue['date'].strftime('%A %-d %B %Y')}</mj-text>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" padding="16px 32px 8px">
      <mj-column>
        <mj-text font-size="17px" line-height="26px">{esc(intro)}</mj-text>
        {chr(10).join(body)}
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" padding="24px 32px 32px">
      <mj-column>
        <mj-text font-size="13px" color="{colours['muted']}">{esc(newsletter['footer']['reason'])}</mj-text>
        <mj-text font-size="13px" color="{colours['muted']}">{esc(newsletter['footer']['address'])}</mj-text>
        <mj-text font-size="13px" color="{colours['muted']}"><a href="https://hsj.example/unsubscribe?email=reader%40example.com" style="color:{colours['brand']}">Unsubscribe</a> from {esc(newsletter['name'])}.</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>""")


if __name__ == "__main__":
    main()
