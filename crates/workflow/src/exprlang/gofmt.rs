//! Go's formatting conventions that Argo exposes: time layouts
//! (`sprig.date('2006-01-02', …)`, `{{workflow.creationTimestamp.<f>}}`)
//! and `fmt.Sprintf` of one integer (`withSequence.format`). Hand-written:
//! no Rust crate formats Go reference-time layouts.

use crate::timestamp::Timestamp;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Formats `t` (UTC) with a Go layout such as `2006-01-02T15:04:05Z07:00`.
pub(crate) fn format_go_layout(layout: &str, t: Timestamp) -> String {
    let c = t.utc();
    let (year, month, day) = (c.year(), u8::from(c.month()), c.day());
    let (hour, minute, second) = (c.hour(), c.minute(), c.second());
    let mut out = String::new();
    let mut rest = layout;
    // Longest tokens first, as Go's nextStdChunk recognises them.
    const TOKENS: &[&str] = &[
        "January",
        "Monday",
        "2006",
        "-07:00:00",
        "-070000",
        "Z07:00:00",
        "Z070000",
        "-07:00",
        "-0700",
        "Z07:00",
        "Z0700",
        "Jan",
        "Mon",
        "MST",
        "002",
        "-07",
        "Z07",
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "15",
        "_2",
        "PM",
        "pm",
        "1",
        "2",
        "3",
        "4",
        "5",
    ];
    while !rest.is_empty() {
        // Fractional seconds: .000 / .999 (or with a comma).
        if let Some(after) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
            let n = after.chars().take_while(|d| *d == '0').count();
            let m = after.chars().take_while(|d| *d == '9').count();
            if n > 0 || m > 0 {
                let digits = n.max(m);
                let frac = format!("{:09}", c.nanosecond());
                let mut part = frac[..digits.min(9)].to_string();
                if m > 0 {
                    while part.ends_with('0') {
                        part.pop();
                    }
                }
                if !part.is_empty() {
                    out.push_str(&rest[..1]);
                    out.push_str(&part);
                }
                rest = &after[digits..];
                continue;
            }
        }
        match TOKENS.iter().find(|tok| rest.starts_with(**tok)) {
            Some(tok) => {
                let hour12 = match hour % 12 {
                    0 => 12,
                    h => h,
                };
                out.push_str(&match *tok {
                    "January" => MONTHS[usize::from(month - 1)].to_string(),
                    "Jan" => MONTHS[usize::from(month - 1)][..3].to_string(),
                    "Monday" => {
                        DAYS[usize::from(c.weekday().number_days_from_sunday())].to_string()
                    }
                    "Mon" => {
                        DAYS[usize::from(c.weekday().number_days_from_sunday())][..3].to_string()
                    }
                    "MST" => "UTC".into(),
                    "2006" => format!("{year:04}"),
                    "06" => format!("{:02}", year.rem_euclid(100)),
                    "01" => format!("{month:02}"),
                    "1" => month.to_string(),
                    "02" => format!("{day:02}"),
                    "2" => day.to_string(),
                    "_2" => format!("{day:>2}"),
                    "002" => format!("{:03}", c.ordinal()),
                    "15" => format!("{hour:02}"),
                    "03" => format!("{hour12:02}"),
                    "3" => hour12.to_string(),
                    "04" => format!("{minute:02}"),
                    "4" => minute.to_string(),
                    "05" => format!("{second:02}"),
                    "5" => second.to_string(),
                    "PM" => (if hour >= 12 { "PM" } else { "AM" }).into(),
                    "pm" => (if hour >= 12 { "pm" } else { "am" }).into(),
                    z if z.starts_with('Z') => "Z".into(),
                    "-07" => "+00".into(),
                    "-0700" => "+0000".into(),
                    "-07:00" => "+00:00".into(),
                    "-070000" => "+000000".into(),
                    _ => "+00:00:00".into(),
                });
                rest = &rest[tok.len()..];
            }
            None => {
                let ch = rest.chars().next().unwrap_or_default();
                out.push(ch);
                rest = &rest[ch.len_utf8()..];
            }
        }
    }
    out
}

/// `fmt.Sprintf(format, n)` for one integer verb (`%d`, `%x`, `%X`, `%o`,
/// `%b`, `%c`, `%v`, with flags `-+0 ` and a width), as `withSequence`
/// formats its items. `%%` is a percent sign.
pub(crate) fn sprintf_int(format: &str, n: i64) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut used = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut plus, mut zero, mut space) = (false, false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                _ => break,
            }
            chars.next();
        }
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width * 10 + d as usize;
            chars.next();
        }
        let verb = chars
            .next()
            .ok_or_else(|| format!("format {format:?} ends inside a verb"))?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        if used {
            return Err(format!("format {format:?} has more than one verb"));
        }
        used = true;
        let mag = n.unsigned_abs();
        let digits = match verb {
            'd' | 'v' => mag.to_string(),
            'x' => format!("{mag:x}"),
            'X' => format!("{mag:X}"),
            'o' => format!("{mag:o}"),
            'b' => format!("{mag:b}"),
            'c' => {
                out.push(char::from_u32(n as u32).unwrap_or('\u{fffd}'));
                continue;
            }
            other => {
                return Err(format!(
                    "format {format:?}: verb %{other} is not supported for integers"
                ));
            }
        };
        let sign = if n < 0 {
            "-"
        } else if plus {
            "+"
        } else if space {
            " "
        } else {
            ""
        };
        let len = sign.len() + digits.len();
        let pad = width.saturating_sub(len);
        if left {
            out.push_str(sign);
            out.push_str(&digits);
            out.push_str(&" ".repeat(pad));
        } else if zero {
            out.push_str(sign);
            out.push_str(&"0".repeat(pad));
            out.push_str(&digits);
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(sign);
            out.push_str(&digits);
        }
    }
    if !used {
        // Go appends `%!(EXTRA int=N)`; a format without a verb is a mistake.
        return Err(format!("format {format:?} has no verb for the number"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_layouts() {
        let t = Timestamp::parse_rfc3339("2024-03-05T14:07:09.250Z").unwrap();
        assert_eq!(format_go_layout("2006", t), "2024");
        assert_eq!(
            format_go_layout("2006-01-02T15:04:05Z07:00", t),
            "2024-03-05T14:07:09Z"
        );
        assert_eq!(
            format_go_layout("Mon Jan _2 3:04PM .000", t),
            "Tue Mar  5 2:07PM .250"
        );
        assert_eq!(
            format_go_layout("January 2, 002 .999", t),
            "March 5, 065 .25"
        );
    }

    #[test]
    fn printf_of_one_integer() {
        assert_eq!(sprintf_int("testuser%02X", 10).unwrap(), "testuser0A");
        assert_eq!(sprintf_int("%d", -5).unwrap(), "-5");
        assert_eq!(sprintf_int("%5d|%%", 42).unwrap(), "   42|%");
        assert_eq!(sprintf_int("%-4d|", 7).unwrap(), "7   |");
        assert!(sprintf_int("no verb", 1).is_err());
        assert!(sprintf_int("%s", 1).is_err());
    }
}
