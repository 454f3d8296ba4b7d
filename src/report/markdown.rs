//! The Markdown documents, rendered from the minijinja templates in `templates/` (embedded in
//! the binary). Every printed value is Markdown-escaped unless the code marked it safe, so
//! templates cannot forget to escape a string that came from a log.

use super::escape;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

pub const REPORT: &str = "report.md";
pub const NOTIFICATION: &str = "notification.md";
pub const HANDOFF: &str = "handoff.md";

const TEMPLATES: [(&str, &str); 3] = [
    (REPORT, include_str!("../../templates/report.md.j2")),
    (
        NOTIFICATION,
        include_str!("../../templates/notification.md.j2"),
    ),
    (HANDOFF, include_str!("../../templates/handoff.md.j2")),
];

fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    // A typo in a template is an error in tests, not an empty cell in a report.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // A custom escape mode makes macro output and `{% set %}` blocks come back marked safe,
    // so what a macro already escaped is not escaped twice; the formatter below does it.
    env.set_auto_escape_callback(|_| AutoEscape::Custom("markdown"));
    env.set_formatter(|out, _state, value| {
        if value.is_safe() {
            return out.write_str(&value.to_string()).map_err(Into::into);
        }
        let text = if value.is_none() || value.is_undefined() {
            "—".to_string()
        } else if let Some(s) = value.as_str() {
            escape::md(s)
        } else {
            escape::md(&value.to_string())
        };
        out.write_str(&text).map_err(Into::into)
    });
    env.add_filter("thousands", |n: u64| -> String { thousands(n) });
    // Lists that grow with the evidence (users, IPs) are named up to a cap in prose.
    env.add_filter("capped", |v: Vec<String>| -> String {
        crate::analysis::prose::capped(v, ", ")
    });
    for (name, src) in TEMPLATES {
        env.add_template(name, src)?;
    }
    Ok(env)
}

/// `1234567` → `1 234 567` (thin grouping that reads the same in every locale).
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Render one template against the model, converted for the templates by the caller.
pub fn render(name: &str, model: &Value) -> Result<String, minijinja::Error> {
    let env = environment()?;
    let tmpl = env.get_template(name)?;
    tmpl.render(model)
}

/// [`render`] into `w` as it renders, the text never held whole.
pub fn render_to(
    name: &str,
    model: &Value,
    w: impl std::io::Write,
) -> Result<(), minijinja::Error> {
    let env = environment()?;
    let tmpl = env.get_template(name)?;
    tmpl.render_captured_to(model, w).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_unless_safe() {
        let mut env = environment().unwrap();
        env.add_template(
            "t",
            "{% macro m(x) %}*{{ x }}*{% endmacro %}{{ a }}|{{ b }}|{{ c }}|{{ n }}|{{ m(a) }}|{{ [a, 'b'] | join(', ') }}",
        )
        .unwrap();
        let out = env
            .get_template("t")
            .unwrap()
            .render(minijinja::context! {
                a => "<script>",
                b => Value::from_safe_string("**ok**".into()),
                c => Value::from(()),
                n => 5,
            })
            .unwrap();
        assert_eq!(
            out,
            "\\<script\\>|**ok**|—|5|*\\<script\\>*|\\<script\\>, b"
        );
    }

    #[test]
    fn strict_undefined() {
        let mut env = environment().unwrap();
        env.add_template("t", "{{ nope.x }}").unwrap();
        assert!(env.get_template("t").unwrap().render(()).is_err());
    }

    #[test]
    fn thousands_groups() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1 000");
        assert_eq!(thousands(1234567), "1 234 567");
    }
}
