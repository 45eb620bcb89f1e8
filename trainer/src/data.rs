//! Training examples from a Datanet snapshot.

use crate::error::{Error, Result};

/// One item of a sealed snapshot, as the trainer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotItem {
    /// Item index in the snapshot.
    pub index: u64,
    /// Contributor address.
    pub contributor: [u8; 20],
    /// The content: integer features (for the digits model: 64 pixels, 0..=16) or text.
    pub content: ItemContent,
    /// The label as stored (for the digits model: "0".."9").
    pub label: String,
}

/// What an item holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemContent {
    /// Integer features.
    Features(Vec<i32>),
    /// Text.
    Text(String),
}

/// The texts of a text snapshot, in order (an item with features is an error naming it).
pub fn texts(items: &[SnapshotItem]) -> Result<Vec<&str>> {
    if items.is_empty() {
        return Err(Error::Empty);
    }
    items
        .iter()
        .map(|it| match &it.content {
            ItemContent::Text(t) => Ok(t.as_str()),
            ItemContent::Features(_) => Err(Error::BadItem {
                item: it.index,
                reason: "has integer features; a text model takes text".into(),
            }),
        })
        .collect()
}

/// Parses a text queries file: one `{"text": "…"}` object per line (blank lines skipped), each text
/// non-empty. Errors name the 1-based line.
pub fn parse_text_queries(text: &str) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Query {
        text: String,
    }
    parse_query_lines(text, |q: Query| {
        if q.text.trim().is_empty() {
            Err("text is empty".into())
        } else {
            Ok(q.text)
        }
    })
}

/// One JSON object per non-blank line, each turned into a query by `check`; errors name the 1-based line,
/// and a file without queries is an error.
fn parse_query_lines<Q: serde::de::DeserializeOwned, T>(
    text: &str,
    check: impl Fn(Q) -> std::result::Result<T, String>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| Error::BadQuery {
            line: i as u64 + 1,
            reason,
        };
        let q: Q = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        out.push(check(q).map_err(bad)?);
    }
    if out.is_empty() {
        return Err(Error::BadQuery {
            line: 0,
            reason: "no queries".into(),
        });
    }
    Ok(out)
}

/// A classification example: scaled inputs and a class index.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Inputs (pixels / 16 for the digits model).
    pub x: Vec<f32>,
    /// Class, `0..classes`.
    pub y: u32,
}

/// Why `features` cannot be a model input (`inputs` values in `0..=max_value`), if it cannot.
pub fn check_features(
    features: &[i32],
    inputs: usize,
    max_value: i32,
) -> std::result::Result<(), String> {
    if features.len() != inputs {
        return Err(format!(
            "has {} features, the model takes {inputs}",
            features.len()
        ));
    }
    match features.iter().find(|v| !(0..=max_value).contains(*v)) {
        Some(v) => Err(format!("feature value {v} outside 0..={max_value}")),
        None => Ok(()),
    }
}

/// Turns snapshot items into examples for a classifier over `inputs` integer features in `0..=max_value`
/// and `classes` labels written as decimal integers.
pub fn examples(
    items: &[SnapshotItem],
    inputs: usize,
    max_value: i32,
    classes: u32,
) -> Result<Vec<Example>> {
    if items.is_empty() {
        return Err(Error::Empty);
    }
    items
        .iter()
        .map(|it| {
            let bad = |reason: String| Error::BadItem {
                item: it.index,
                reason,
            };
            let ItemContent::Features(features) = &it.content else {
                return Err(bad("is text; this model takes integer features".into()));
            };
            check_features(features, inputs, max_value).map_err(bad)?;
            let y: u32 = it
                .label
                .parse()
                .map_err(|_| bad(format!("label {:?} is not a class number", it.label)))?;
            if y >= classes {
                return Err(bad(format!("label {y} outside 0..{classes}")));
            }
            let scale = max_value as f32;
            Ok(Example {
                x: features.iter().map(|&v| v as f32 / scale).collect(),
                y,
            })
        })
        .collect()
}

/// Parses a queries file: one `{"features": [int, …]}` object per line (blank lines skipped), each with
/// `inputs` values in `0..=max_value`. Errors name the 1-based line.
pub fn parse_queries(text: &str, inputs: usize, max_value: i32) -> Result<Vec<Vec<i32>>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Query {
        features: Vec<i32>,
    }
    parse_query_lines(text, |q: Query| {
        check_features(&q.features, inputs, max_value)?;
        Ok(q.features)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_parsed_and_checked() {
        let q =
            parse_queries("{\"features\":[1,2,3]}\n\n{\"features\":[0,0,16]}\n", 3, 16).unwrap();
        assert_eq!(q, vec![vec![1, 2, 3], vec![0, 0, 16]]);
        for (text, needle) in [
            ("{\"features\":[1,2]}", "line 1"),
            ("{\"features\":[1,2,3]}\n{\"features\":[1,2,30]}", "line 2"),
            ("{\"feature\":[1,2,3]}", "line 1"),
            ("", "no queries"),
        ] {
            let err = parse_queries(text, 3, 16).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn text_queries_are_parsed_and_checked() {
        let q = parse_text_queries("{\"text\":\"a b\"}\n\n{\"text\":\"c\"}\n").unwrap();
        assert_eq!(q, vec!["a b".to_owned(), "c".to_owned()]);
        for (text, needle) in [
            (
                "{\"text\":\"a\"}\n{\"text\":\"  \"}",
                "line 2: text is empty",
            ),
            ("{\"features\":[1]}", "line 1"),
            ("\n\n", "no queries"),
        ] {
            let err = parse_text_queries(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    fn item(features: Vec<i32>, label: &str) -> SnapshotItem {
        SnapshotItem {
            index: 7,
            contributor: [1; 20],
            content: ItemContent::Features(features),
            label: label.into(),
        }
    }

    #[test]
    fn scales_and_checks() {
        let ex = examples(&[item(vec![0, 8, 16], "2")], 3, 16, 10).unwrap();
        assert_eq!(ex[0].x, vec![0.0, 0.5, 1.0]);
        assert_eq!(ex[0].y, 2);
        for (it, needle) in [
            (item(vec![0, 8], "2"), "has 2 features"),
            (item(vec![0, 8, 17], "2"), "outside 0..=16"),
            (item(vec![0, 8, 16], "x"), "not a class number"),
            (item(vec![0, 8, 16], "10"), "outside 0..10"),
        ] {
            let err = examples(&[it], 3, 16, 10).unwrap_err().to_string();
            assert!(err.contains("item 7") && err.contains(needle), "{err}");
        }
        assert!(matches!(examples(&[], 3, 16, 10), Err(Error::Empty)));
    }
}
