//! Lists inside sentences are capped. A criterion, an action or a rationale that names every
//! IP of a noisy tenant grows with the evidence (a 64 MiB sign-in export once gave a 121 MB
//! report and a 37 MB "block these IPs" line) and nobody can read it. The complete lists stay
//! where machines and analysts look them up: the findings' `users`/`ips`/`evidence`, each
//! criterion's `evidence`, the users' views and the report's indicator table.

/// Items named in one sentence before the rest is counted.
pub const LIST_CAP: usize = 12;

/// The items joined with `sep`, or the first [`LIST_CAP`] of them and how many more.
pub fn capped<I, S>(items: I, sep: &str) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    capped_at(items, sep, LIST_CAP)
}

/// [`capped`] with an explicit cap (at least one item is always named).
pub fn capped_at<I, S>(items: I, sep: &str, cap: usize) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let cap = cap.max(1);
    let mut out = String::new();
    let mut n = 0usize;
    for item in items {
        if n < cap {
            if n > 0 {
                out.push_str(sep);
            }
            out.push_str(item.as_ref());
        }
        n += 1;
    }
    if n > cap {
        out.push_str(&format!(" and {} more", n - cap));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lists_are_whole() {
        assert_eq!(capped(Vec::<String>::new(), ", "), "");
        assert_eq!(capped(["a"], ", "), "a");
        let twelve: Vec<String> = (0..LIST_CAP).map(|i| i.to_string()).collect();
        assert_eq!(capped(&twelve, ", "), twelve.join(", "));
    }

    #[test]
    fn long_lists_name_the_first_and_count_the_rest() {
        let many: Vec<String> = (0..1000)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        let s = capped(&many, ", ");
        assert!(s.starts_with("10.0.0.0, 10.0.0.1, "));
        assert!(s.ends_with(&format!(
            "10.0.0.{} and {} more",
            LIST_CAP - 1,
            1000 - LIST_CAP
        )));
        assert_eq!(capped_at(["a", "b", "c"], "; ", 2), "a; b and 1 more");
        assert_eq!(capped_at(["a", "b"], "; ", 0), "a and 1 more");
    }
}
