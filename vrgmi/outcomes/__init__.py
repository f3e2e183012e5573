"""Outcomes a clinic reports (issue 17): the measure battery (:mod:`battery`), follow-up
visits (:mod:`schedule`), the stored answers (:mod:`store`), per-patient change and the
clinic's responder analysis (:mod:`analysis`), and the demo's outcome data (:mod:`demo`).
No Panda3D. See docs/outcomes.md."""
