"""A probe round against real HTTPS origins on loopback: the name as SNI and Host, each failure
counted as users would meet it."""

from __future__ import annotations

import pytest
import trustme

from cutover import probes, readiness
from cutover_local.origins import Origin, resolver

NAME = "www.shop.example.com"
AWS, HEROKU, NOWHERE = "shop-alb.us-east-1.elb.amazonaws.com", "tranquil-reef-1234.herokudns.com", "typo.elb.amazonaws.com"


@pytest.fixture
def world(tmp_path, monkeypatch):
    ca = trustme.CA()
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    aws, heroku = Origin(ca), Origin(ca)
    monkeypatch.setattr(readiness, "system_resolver", resolver({AWS: aws.address, HEROKU: heroku.address}))
    monkeypatch.setattr(readiness, "CA_BUNDLE", str(cafile))
    yield aws, heroku
    aws.close()
    heroku.close()


def round_of(*targets):
    return {(o.origin, o.target): o for o in probes.probe([(NAME, origin, target) for origin, target in targets], timeout=1)}


def test_both_origins_are_probed_with_the_name_as_host_and_answers_carry_their_latency(world):
    aws, heroku = world
    seen = round_of(("aws", AWS), ("heroku", HEROKU))
    assert all(o.error is None and o.status == 200 and o.seconds is not None for o in seen.values())
    assert aws.requests == heroku.requests == [{"path": "/", "host": NAME}]


def test_a_5xx_an_expired_certificate_a_slow_origin_and_a_name_that_does_not_resolve_are_errors(world):
    aws, heroku = world
    aws.status = 503
    heroku.certificate = "expired"
    seen = round_of(("aws", AWS), ("heroku", HEROKU), ("aws", NOWHERE))
    assert [seen[k].error for k in (("aws", AWS), ("heroku", HEROKU), ("aws", NOWHERE))] == ["5xx", "tls", "dns"]
    aws.status, aws.delay = 200, 1.5
    assert round_of(("aws", AWS))[("aws", AWS)].error == "timeout"
