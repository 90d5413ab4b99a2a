//! Server-rendered HTML: escaping and the page layout.

/// Escapes text for HTML element content and quoted attribute values. Everything an
/// agent wrote (commands, reasons, task names) goes through here.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{title} · cordon</title>
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<header><h1>cordon</h1><nav aria-label="main"><a href="/">Pending approvals</a><a href="/tasks">Tasks and audit</a></nav></header>
<main id="main">
{body}
</main>
<script src="/static/app.js"></script>
</body>
</html>
"#,
        title = esc(title)
    )
}
