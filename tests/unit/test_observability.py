"""Handlers' metrics in a process that runs many invocations (the engine, the CLI's rehearsal)."""

from __future__ import annotations

from cutover.handler import observed
from cutover.observability import metrics


def test_metrics_do_not_pile_up_across_invocations_and_never_reach_stdout(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")

    @observed("id")
    def handler(event, context):
        metrics.add_metric(name="WeightShift", unit="Count", value=1)
        return {"ok": True}

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "f", 128, "r"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"

    for _ in range(150):  # Powertools prints a metric set by itself once a metric has 100 values
        assert handler({"id": "x"}, Context()) == {"ok": True}
    assert "_aws" not in capsys.readouterr().out
    assert metrics.metric_set == {}
