//! Reads the ts-rs declarations embedded in a descriptor
//! (`type Task = { title: string, due: string | null, };`) into their fields,
//! so the generated interfaces use exactly the types ts-rs produced.

/// One property of an object type declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TsProperty {
    /// The property name, unquoted.
    pub name: String,
    /// The TypeScript type text, trimmed.
    pub ty: String,
}

/// Parses `[export] type Name = { prop: T, ... };` and returns the name and
/// properties. Doc comments are skipped. Errors describe what was expected.
pub(crate) fn parse_object_declaration(decl: &str) -> Result<(String, Vec<TsProperty>), String> {
    let rest = skip_trivia(decl);
    let rest = rest
        .strip_prefix("export ")
        .map(skip_trivia)
        .unwrap_or(rest);
    let rest = rest.strip_prefix("type ").ok_or_else(|| {
        format!(
            "expected `type Name = {{ ... }};`, found `{}`",
            preview(decl)
        )
    })?;
    let (name, rest) = rest
        .split_once('=')
        .ok_or_else(|| "expected `=` after the type name".to_owned())?;
    let name = name.trim();
    if name.contains('<') {
        return Err(format!("generic declarations are not supported (`{name}`)"));
    }
    let body = rest.trim().trim_end_matches(';').trim_end();
    let inner = body
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .ok_or_else(|| {
            format!(
                "`{name}` is not a plain object type (found `{}`)",
                preview(body)
            )
        })?;
    let mut properties = Vec::new();
    for segment in split_top_level(inner, ',')? {
        let segment = strip_comments(&segment);
        let segment = segment.trim();
        if segment.is_empty() {
            continue;
        }
        let parts = split_top_level(segment, ':')?;
        if parts.len() < 2 {
            return Err(format!("`{segment}` is not a `name: type` property"));
        }
        let raw_name = parts[0].trim();
        // Everything after the first top-level colon is the type.
        let ty = segment[parts[0].len() + 1..].trim().to_owned();
        if raw_name.ends_with('?') {
            return Err(format!(
                "property `{raw_name}` is declared optional with `?`; descriptors must use `T | null`"
            ));
        }
        let name = unquote(raw_name)?;
        properties.push(TsProperty { name, ty });
    }
    Ok((name.to_owned(), properties))
}

fn preview(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

fn skip_trivia(mut text: &str) -> &str {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix("/*") {
            text = rest.split_once("*/").map(|(_, after)| after).unwrap_or("");
        } else if let Some(rest) = text.strip_prefix("//") {
            text = rest.split_once('\n').map(|(_, after)| after).unwrap_or("");
        } else {
            return text;
        }
    }
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((index, c)) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' {
                if let Some((_, escaped)) = chars.next() {
                    out.push(escaped);
                }
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => {
                quote = Some(c);
                out.push(c);
            }
            '/' if text[index..].starts_with("/*") => {
                let end = text[index + 2..]
                    .find("*/")
                    .map(|e| index + 2 + e + 2)
                    .unwrap_or(text.len());
                while chars.peek().is_some_and(|(i, _)| *i < end) {
                    chars.next();
                }
                out.push(' ');
            }
            '/' if text[index..].starts_with("//") => {
                while chars.peek().is_some_and(|(_, c)| *c != '\n') {
                    chars.next();
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Splits at `separator` where it is not nested in brackets, strings or
/// comments.
fn split_top_level(text: &str, separator: char) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth: i32 = 0;
    let mut chars = text.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((index, c)) = chars.next() {
        if let Some(q) = quote {
            current.push(c);
            if c == '\\' {
                if let Some((_, escaped)) = chars.next() {
                    current.push(escaped);
                }
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '/' if text[index..].starts_with("/*") => {
                let end = text[index + 2..]
                    .find("*/")
                    .map(|e| index + 2 + e + 2)
                    .ok_or_else(|| "unterminated comment".to_owned())?;
                current.push_str(&text[index..end]);
                while chars.peek().is_some_and(|(i, _)| *i < end) {
                    chars.next();
                }
                continue;
            }
            '/' if text[index..].starts_with("//") => {
                let end = text[index..].find('\n').map_or(text.len(), |e| index + e);
                current.push_str(&text[index..end]);
                while chars.peek().is_some_and(|(i, _)| *i < end) {
                    chars.next();
                }
                continue;
            }
            '{' | '[' | '(' | '<' => depth += 1,
            '}' | ']' | ')' => depth -= 1,
            // `=>` of a function type is not a closing angle bracket.
            '>' if !current.ends_with('=') => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return Err(format!("unbalanced brackets in `{}`", preview(text)));
        }
        if c == separator && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    if quote.is_some() {
        return Err(format!("unterminated string in `{}`", preview(text)));
    }
    if depth != 0 {
        return Err(format!("unbalanced brackets in `{}`", preview(text)));
    }
    parts.push(current);
    Ok(parts)
}

fn unquote(raw: &str) -> Result<String, String> {
    if raw.starts_with('"') {
        return serde_json::from_str(raw).map_err(|e| format!("bad quoted name {raw}: {e}"));
    }
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return Ok(inner.to_owned());
    }
    if raw.is_empty() || raw.chars().any(char::is_whitespace) {
        return Err(format!("`{raw}` is not a property name"));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ts_rs_output_with_doc_comments() {
        let decl = "type Task = { \n/**\n * The title, with a comma, and: colon.\n */\ntitle: string, tags: Array<string>, m: Record<string, number | null>, summary: string | null, };";
        let (name, props) = parse_object_declaration(decl).unwrap();
        assert_eq!(name, "Task");
        let names: Vec<_> = props.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["title", "tags", "m", "summary"]);
        assert_eq!(props[2].ty, "Record<string, number | null>");
        assert_eq!(props[3].ty, "string | null");
    }

    #[test]
    fn apostrophes_and_commas_in_comments_are_not_code() {
        let decl = "type A = { /** The owner's name, or: none. */ owner: string, // it's a line, too\n b: number, };";
        let (_, props) = parse_object_declaration(decl).unwrap();
        let names: Vec<_> = props.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["owner", "b"]);
        assert_eq!(props[1].ty, "number");
    }

    #[test]
    fn reads_quoted_names_and_export() {
        let (_, props) = parse_object_declaration(
            "export type A = { \"odd-name\": string, 'x': { a: 1, b: 2 } };",
        )
        .unwrap();
        assert_eq!(props[0].name, "odd-name");
        assert_eq!(props[1].name, "x");
        assert_eq!(props[1].ty, "{ a: 1, b: 2 }");
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for (decl, expected) in [
            ("interface A { a: string }", "expected `type Name"),
            ("type A = string;", "not a plain object type"),
            ("type A<T> = { a: T };", "generic"),
            ("type A = { a: Array<string };", "unbalanced"),
            ("type A = { a?: string };", "optional with `?`"),
            ("type A = { a string };", "not a `name: type`"),
            ("type A = { a: \"x };", "unterminated string"),
        ] {
            let err = parse_object_declaration(decl).unwrap_err();
            assert!(err.contains(expected), "{decl}: {err}");
        }
    }
}
