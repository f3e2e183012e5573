// Validate glTF/GLB files with the Khronos glTF Validator (npm package gltf-validator).
// Usage: node tests/gltf_validate.mjs FILE...   Prints one JSON report per file, a list:
// [{"file", "errors", "warnings", "infos", "hints", "messages": [{code, severity, pointer, message}]}]
// Exit status: 0 when every file has zero errors, 1 otherwise, 2 when the validator is missing.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
let validator;
try {
    validator = require("gltf-validator");
} catch (e) {
    console.error("gltf-validator is not installed: npm install --no-save gltf-validator@2.0.0-dev.3.10");
    process.exit(2);
}

const severity = ["error", "warning", "info", "hint"];
const reports = [];
for (const file of process.argv.slice(2)) {
    const report = await validator.validateBytes(new Uint8Array(readFileSync(file)), {
        uri: file, maxIssues: 1000, writeTimestamp: false,
    });
    const issues = report.issues;
    reports.push({
        file,
        errors: issues.numErrors, warnings: issues.numWarnings,
        infos: issues.numInfos, hints: issues.numHints,
        messages: issues.messages.map((m) => ({
            code: m.code, severity: severity[m.severity], pointer: m.pointer, message: m.message,
        })),
    });
}
console.log(JSON.stringify(reports, null, 1));
process.exit(reports.some((r) => r.errors > 0) ? 1 : 0);
