"""`make lint`: every alarm of template.yaml is wired the same way and documented.

Run with the tools venv's Python (`make tools`), which has SAM's YAML loader for the
CloudFormation tags: `.tools/venv/bin/python scripts/alarms-check.py`. For each
AWS::CloudWatch::Alarm it checks that
  - it notifies AlarmTopicArn, on alarm and on recovery, when HasAlarmTopic holds;
  - it has a description that points at its section of docs/RUNBOOK.md;
  - docs/RUNBOOK.md has that section (a heading or an anchor named after the logical id);
  - the dashboard's alarm widget shows it.
cfn-lint (scripts/lint.sh) checks the alarms' properties themselves.
"""

import pathlib
import re
import sys

from samtranslator.yaml_helper import yaml_parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTIFY = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def description_text(value):
    if isinstance(value, dict) and "Fn::Sub" in value:
        value = value["Fn::Sub"]
    return value if isinstance(value, str) else ""


def main():
    template = yaml_parse((ROOT / "template.yaml").read_text())
    runbook = (ROOT / "docs" / "RUNBOOK.md").read_text()
    anchors = {
        *(m.lower() for m in re.findall(r"^#+\s+(\w+)\s*$", runbook, re.M)),
        *re.findall(r'<a id="([^"]+)"></a>', runbook),
    }
    resources = template["Resources"]
    dashboard = resources.get("Dashboard", {}).get("Properties", {}).get("DashboardBody", {})
    dashboard_text = str(dashboard)

    alarms = sorted(k for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm")
    problems = []
    for name in alarms:
        props = resources[name]["Properties"]
        for key in ("AlarmActions", "OKActions"):
            if props.get(key) != NOTIFY:
                problems.append(f"{name}: {key} must be !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]")
        anchor = name.lower()
        if f"docs/RUNBOOK.md#{anchor}" not in description_text(props.get("AlarmDescription")):
            problems.append(f"{name}: AlarmDescription must point at docs/RUNBOOK.md#{anchor}")
        if anchor not in anchors:
            problems.append(f"{name}: docs/RUNBOOK.md has no section or anchor '{anchor}'")
        if "${" + name + ".Arn}" not in dashboard_text:
            problems.append(f"{name}: not in the dashboard's alarm widget")

    if not alarms:
        problems.append("template.yaml has no alarm")
    for problem in problems:
        print(problem)
    if problems:
        print(f"FAIL  alarms of template.yaml ({len(problems)} problems)")
        return 1
    print(f"ok    {len(alarms)} alarms notify AlarmTopicArn, are in the dashboard and in docs/RUNBOOK.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
