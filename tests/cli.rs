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

#[test]
fn bench_json_has_every_key() {
    let output = nestlat(&[
        "bench",
        "--shapes",
        "16x72",
        "--presets",
        "lloyd-4,e8b-2,e8-4,z-4",
        "--batch",
        "1,3",
        "--repeats",
        "2",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let stdout = String::from_utf8(output.stdout).unwrap();
    let reports: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        reports.len(),
        8,
        "one object per preset and batch: {stdout}"
    );
    for report in &reports {
        for key in [
            "kernel",
            "rows",
            "cols",
            "batch",
            "bits_stored",
            "ns_per_product",
            "gweights_per_s",
            "f32_ns_per_product",
            "ratio_vs_f32",
        ] {
            assert!(report.get(key).is_some(), "key {key} missing in {report}");
        }
        assert_eq!(report["rows"], 16);
        assert_eq!(report["cols"], 72);
        assert!(report["ns_per_product"].as_f64().unwrap() > 0.0);
    }
    let kernels: Vec<&str> = reports
        .iter()
        .map(|report| report["kernel"].as_str().unwrap())
        .collect();
    assert_eq!(
        kernels,
        [
            "lloyd-4/nibble-i8",
            "lloyd-4/nibble-i8",
            "e8b-2/ball-i8",
            "e8b-2/ball-i8",
            "e8-4/e8-lanes",
            "e8-4/e8-lanes",
            "z-4/groups-f32",
            "z-4/groups-f32"
        ]
    );
}

#[test]
fn bench_rejects_bad_options() {
    let cases: [(&[&str], &str); 5] = [
        (&["--shapes", "0x5"], "rows"),
        (&["--shapes", "10"], "ROWSxCOLS"),
        (&["--batch", "0"], "batch \"0\""),
        (&["--repeats", "0"], "--repeats 0"),
        (&["--threads", "100000"], "--threads 100000"),
    ];
    for (options, expected) in cases {
        let mut args = vec!["bench"];
        args.extend_from_slice(options);
        let output = nestlat(&args);
        assert!(!output.status.success(), "{options:?} succeeded");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(expected), "{options:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{options:?} printed a table");
    }
}
