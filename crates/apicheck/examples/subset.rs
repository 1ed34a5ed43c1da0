//! Prints the part of a Swagger 2.0 description that some operations need
//! (their definitions, transitively; descriptions dropped), to vendor as
//! test data:
//!
//! ```text
//! cargo run -p ferry-apicheck --example subset -- swagger.json \
//!     "GET /api/v1/applications/{name}" "GET /api/v1/applications" > subset.json
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((file, ops)) = args.split_first() else {
        eprintln!("usage: subset SWAGGER.json \"METHOD /path\"...");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    match ferry_apicheck::subset(&text, &ops, &[]) {
        Ok(v) => match serde_json::to_string_pretty(&v) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
