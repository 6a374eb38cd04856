"""The local engine: the real state machine and handlers on an embedded AWS (moto).

moto is lax where AWS is strict; the modules here make it behave like AWS where the
cutover depends on it (Route 53's rules and change propagation, CloudWatch alarm history).
They patch moto's private code, so moto is pinned and ``patch_points.verify()`` fails
loudly when a patched name moves.
"""
