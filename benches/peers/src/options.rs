//! Command-line options.

/// Largest matrix the program builds, in entries (1 GiB of `f32`).
const MAX_ENTRIES: usize = 1 << 28;

/// Column multiple that every format accepts: the Q4_K super-block of 256
/// weights (Q4_0 and Q8_0 blocks hold 32).
const COLUMN_MULTIPLE: usize = 256;

/// Help text of `--help`.
pub const USAGE: &str = "\
Usage: nestlat-peers [--shapes ROWSxCOLS,...] [--repeats N] [--json]

Times W x on one thread for f32, candle Q4_0 and Q4_K, and nestlat presets,
on the same Gaussian matrices, and reports the output SQNR of each.

Options:
  --shapes LIST   Matrix shapes ROWSxCOLS, comma separated; COLS must be a
                  multiple of 256 [default: 1024x1024,4096x4096,11008x4096]
  --repeats N     Timed products per kernel; the median is reported [default: 15]
  --json          Print one JSON object per line instead of a table
  -h, --help      Print this help";

/// One matrix shape, `rows x cols`, multiplied by one vector of `cols`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub rows: usize,
    pub cols: usize,
}

impl Shape {
    /// Returns the number of weights.
    pub fn entries(self) -> usize {
        self.rows * self.cols
    }
}

/// The parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub shapes: Vec<Shape>,
    pub repeats: usize,
    pub json: bool,
}

/// Outcome of parsing: options to run with, or a request for the help text.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Options),
    Help,
}

/// Parses the arguments after the program name.
///
/// # Errors
///
/// Returns a message naming the invalid or unknown argument.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut options = Options {
        shapes: parse_shapes("1024x1024,4096x4096,11008x4096")?,
        repeats: 15,
        json: false,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} is missing its value; see --help"))
        };
        match name.as_str() {
            "--shapes" => options.shapes = parse_shapes(&value()?)?,
            "--repeats" => {
                options.repeats = parse_count(&value()?)
                    .map_err(|hint| format!("--repeats is invalid: {hint}"))?
            }
            "--json" if inline_value.is_none() => options.json = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            _ => return Err(format!("unknown argument {arg:?}; see --help")),
        }
    }
    Ok(Parsed::Run(options))
}

/// Parses a comma-separated list of `ROWSxCOLS` shapes.
fn parse_shapes(list: &str) -> Result<Vec<Shape>, String> {
    list.split(',')
        .map(|item| {
            parse_shape(item.trim()).map_err(|hint| format!("shape {item:?} is invalid: {hint}"))
        })
        .collect()
}

/// Parses `ROWSxCOLS` with both sizes at least 1, `COLS` a multiple of
/// [`COLUMN_MULTIPLE`] and at most [`MAX_ENTRIES`] entries in all.
fn parse_shape(text: &str) -> Result<Shape, String> {
    let hint = "write ROWSxCOLS, such as 4096x4096";
    let (rows, cols) = text.split_once('x').ok_or(hint)?;
    let rows = parse_count(rows).map_err(|_| hint)?;
    let cols = parse_count(cols).map_err(|_| hint)?;
    if cols % COLUMN_MULTIPLE != 0 {
        return Err(format!(
            "COLS must be a multiple of {COLUMN_MULTIPLE}, the Q4_K super-block"
        ));
    }
    match rows.checked_mul(cols) {
        Some(entries) if entries <= MAX_ENTRIES => Ok(Shape { rows, cols }),
        _ => Err(format!("use at most {MAX_ENTRIES} entries")),
    }
}

/// Parses a count of at least 1.
fn parse_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err(format!("{text:?} is not a whole number of at least 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Parsed, String> {
        parse(words.iter().map(|word| word.to_string()))
    }

    #[test]
    fn defaults_without_arguments() {
        let Ok(Parsed::Run(options)) = parse_words(&[]) else {
            panic!("no arguments must parse");
        };
        assert_eq!(options.shapes.len(), 3);
        assert_eq!(
            options.shapes[2],
            Shape {
                rows: 11008,
                cols: 4096
            }
        );
        assert_eq!(options.repeats, 15);
        assert!(!options.json);
    }

    #[test]
    fn every_option_in_both_spellings() {
        let expected = Parsed::Run(Options {
            shapes: vec![Shape { rows: 8, cols: 512 }, Shape { rows: 3, cols: 256 }],
            repeats: 4,
            json: true,
        });
        assert_eq!(
            parse_words(&["--shapes", "8x512, 3x256", "--repeats", "4", "--json"]),
            Ok(expected)
        );
        let Ok(Parsed::Run(options)) = parse_words(&["--shapes=8x512", "--repeats=4"]) else {
            panic!("inline values must parse");
        };
        assert_eq!(options.shapes, vec![Shape { rows: 8, cols: 512 }]);
        assert_eq!(options.repeats, 4);
    }

    #[test]
    fn invalid_arguments_rejected() {
        assert!(
            parse_words(&["--shapes", "8x100"])
                .unwrap_err()
                .contains("multiple of 256")
        );
        assert!(parse_words(&["--shapes", "0x256"]).is_err());
        assert!(parse_words(&["--shapes", "8by256"]).is_err());
        assert!(parse_words(&["--shapes", "1048576x1048576"]).is_err());
        assert!(parse_words(&["--repeats", "0"]).is_err());
        assert!(parse_words(&["--repeats"]).unwrap_err().contains("missing"));
        assert!(parse_words(&["--json=yes"]).is_err());
        assert!(
            parse_words(&["--threads", "2"])
                .unwrap_err()
                .contains("unknown")
        );
    }

    #[test]
    fn help_requested() {
        assert_eq!(parse_words(&["--help"]), Ok(Parsed::Help));
        assert_eq!(parse_words(&["--json", "-h"]), Ok(Parsed::Help));
    }
}
