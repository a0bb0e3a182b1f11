"""Checks LLM tool definitions with the jsonschema package.

Reads a JSON file {"openai": [...], "anthropic": [...], "samples": [{"tool",
"arguments", "valid"}]}: every tool's parameter schema must be a valid
draft 2020-12 schema, and each sample's arguments must validate (or not)
as stated. Prints {"checked": N} or exits non-zero naming the problem.
"""

import json
import sys

import jsonschema


def main(path):
    with open(path) as f:
        spec = json.load(f)
    schemas = {}
    for tool in spec["openai"]:
        assert tool["type"] == "function", tool
        function = tool["function"]
        jsonschema.Draft202012Validator.check_schema(function["parameters"])
        schemas[function["name"]] = function["parameters"]
    for tool in spec["anthropic"]:
        jsonschema.Draft202012Validator.check_schema(tool["input_schema"])
        assert tool["input_schema"] == schemas[tool["name"]], tool["name"]
        assert tool["description"], tool["name"]
    checked = 0
    for sample in spec["samples"]:
        validator = jsonschema.Draft202012Validator(schemas[sample["tool"]])
        valid = validator.is_valid(sample["arguments"])
        assert valid == sample["valid"], (sample, [e.message for e in validator.iter_errors(sample["arguments"])])
        checked += 1
    print(json.dumps({"checked": checked, "tools": len(schemas)}))


if __name__ == "__main__":
    main(sys.argv[1])
