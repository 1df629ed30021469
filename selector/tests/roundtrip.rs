use fast_litellm_selector::*;

const SAMPLE: &str = r#"
version: 1
host:
  cpu_model: "Example CPU @ 2.0GHz"
  cores: 2
  python: "3.11.7"
  litellm: "1.110.2"
  fast_litellm: "0.1.0"
measured_at: "2026-11-30T17:00:00Z"
quick: true
margin: 0.05
components:
  tokens:
    mode: auto
    rollout_percent: 100
    thresholds:
      text: 0
      messages: 4
      never_class: null
    measurements:
      text:
        - {size: 1, samples: 10, python_p50_ns: 20000, python_p99_ns: 30000, native_p50_ns: 900, native_p99_ns: 2000}
        - {size: 10, samples: 10, python_p50_ns: 21000, python_p99_ns: 31000, native_p50_ns: 950, native_p99_ns: 2100}
"#;

#[test]
fn yaml_round_trip_keeps_everything() {
    let policy = from_yaml(SAMPLE).expect("sample is valid");
    assert_eq!(policy.components["tokens"].thresholds["messages"], Some(4));
    assert_eq!(policy.components["tokens"].thresholds["never_class"], None);
    let again = from_yaml(&to_yaml(&policy).unwrap()).unwrap();
    assert_eq!(policy, again);
    let via_json = from_json(&to_json(&policy).unwrap()).unwrap();
    assert_eq!(policy, via_json);
}

#[test]
fn invalid_values_are_named() {
    let bad = SAMPLE
        .replace("rollout_percent: 100", "rollout_percent: 150")
        .replace("version: 1", "version: 9")
        .replace("  tokens:", "  tokenz:");
    let error = from_yaml(&bad).unwrap_err().to_string();
    assert!(error.contains("version 9"), "{error}");
    assert!(error.contains("unknown component \"tokenz\""), "{error}");
    assert!(error.contains("rollout_percent 150"), "{error}");
}

#[test]
fn syntax_errors_and_unknown_fields_are_rejected() {
    assert!(matches!(
        from_yaml("version: [unclosed"),
        Err(PolicyError::Syntax(_))
    ));
    let extra = SAMPLE.replace("quick: true", "quick: true\nsurprise: 1");
    assert!(matches!(from_yaml(&extra), Err(PolicyError::Syntax(_))));
    let wrong_type = SAMPLE.replace("messages: 4", "messages: -4");
    assert!(matches!(
        from_yaml(&wrong_type),
        Err(PolicyError::Syntax(_))
    ));
}

#[test]
fn decreasing_ladder_is_invalid() {
    let bad = SAMPLE.replace("{size: 10,", "{size: 1,");
    assert!(from_yaml(&bad)
        .unwrap_err()
        .to_string()
        .contains("sizes must increase"));
}

#[test]
fn written_yaml_quotes_every_string_and_reads_back() {
    let mut policy = from_yaml(SAMPLE).unwrap();
    policy.host.cpu_model = "on".to_owned();
    policy.host.litellm = "yes".to_owned();
    let text = to_yaml(&policy).unwrap();
    assert!(text.contains("cpu_model: \"on\""), "{text}");
    assert!(
        text.contains("measured_at: \"2026-11-30T17:00:00Z\""),
        "{text}"
    );
    assert_eq!(from_yaml(&text).unwrap(), policy);
}
