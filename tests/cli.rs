//! The `nestlat` command-line tool, run as a user would run it. Needs the
//! binary, so it builds only with `--features cli`.
#![cfg(feature = "cli")]

use std::process::Command;

fn nestlat(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nestlat"))
        .args(args)
        .output()
        .expect("the nestlat binary runs")
}

#[test]
fn gaussian_json_has_every_key() {
    let output = nestlat(&[
        "gaussian", "--preset", "e8-4", "--n", "512", "--a", "8", "--b", "8", "--json",
    ]);
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one object per preset: {stdout}");
    let report: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    for key in [
        "preset",
        "lattice",
        "bits_stored",
        "bits_ideal",
        "n",
        "a",
        "b",
        "distortion",
        "gamma",
        "gap_db",
        "distortion_weight_only",
        "gap_weight_only_db",
    ] {
        assert!(report.get(key).is_some(), "key {key} missing in {report}");
    }
    assert_eq!(report["preset"], "e8-4");
    assert_eq!(report["lattice"], "E8");
    assert_eq!(report["n"], 512);
    assert!(report["gap_db"].as_f64().unwrap() < 4.0);
}

#[test]
fn gaussian_all_prints_every_preset() {
    let output = nestlat(&["gaussian", "--n", "64", "--a", "2", "--b", "2", "--json"]);
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), nestlat::quant::Preset::all().len());
}

#[test]
fn unknown_preset_is_rejected() {
    let output = nestlat(&["gaussian", "--preset", "e9-4"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("\"e9-4\" is unknown"), "stderr: {stderr}");
    assert!(
        stderr.contains("e8-4"),
        "stderr lists the presets: {stderr}"
    );
}

#[test]
fn tune_reports_stored_and_tuned() {
    let output = nestlat(&["tune", "--preset", "shell-1", "--samples", "500"]);
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("stored:"), "stdout: {stdout}");
    assert!(stdout.contains("tuned:"), "stdout: {stdout}");
}

#[test]
fn plot_writes_svg_with_gamma() {
    let path = std::env::temp_dir().join(format!("nestlat-plot-{}.svg", std::process::id()));
    let output = nestlat(&[
        "plot",
        "-o",
        path.to_str().unwrap(),
        "--n",
        "256",
        "--a",
        "4",
        "--b",
        "4",
    ]);
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "not an SVG: {}",
        &svg[..svg.len().min(200)]
    );
    assert!(svg.contains("Gamma"), "no Gamma(R) legend entry");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(path.to_str().unwrap()),
        "stdout names the file: {stdout}"
    );
}
