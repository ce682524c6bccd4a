"""Cameos: a verified likeness that its owner controls (docs/CAMEOS.md).

Verification of a take: liveness.py (the challenge, the checks, the verdict), with
take.py (reading it), faces.py (MTCNN), track.py (the face through the take), digits.py
(PocketSphinx), appearance.py (the Likeness it gives, likeness.py). The submodules are
imported where they are used: verification loads torch and PocketSphinx, which the rest
of the app does not need.
"""
