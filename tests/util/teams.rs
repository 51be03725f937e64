//! Microsoft's Adaptive Cards SDK, for the Teams tests: tests/node/render-teams.mjs.

use std::path::Path;

use serde_json::Value;

use super::TestEnv;

/// Renders Teams messages with tests/node/render-teams.mjs; one result per message.
pub fn render_teams(env: &TestEnv, messages: &[Value]) -> Vec<Value> {
    let file = env.path("cards.json");
    std::fs::write(&file, serde_json::to_vec(messages).expect("json")).expect("write");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/render-teams.mjs");
    assert!(
        script.with_file_name("node_modules/adaptivecards").is_dir(),
        "tests/node/node_modules is missing: run ./install.sh --deps"
    );
    let output = std::process::Command::new("node")
        .arg(&script)
        .arg(&file)
        .output()
        .unwrap_or_else(|error| panic!("node is missing ({error}): run ./install.sh --deps"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the renderer's JSON")
}
