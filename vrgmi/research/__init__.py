"""Research integration (docs/research.md): the session's markers and the solved limbs as Lab
Streaming Layer streams, a decoded signal (EMG) driving the phantom, BIDS events.

The math (:mod:`.clock`, :mod:`.drive`, :mod:`.markers`) imports neither pylsl nor Panda3D;
:mod:`.lsl` is the one place pylsl is loaded, and a missing pylsl or liblsl turns LSL off
with one line, never stopping the engine.
"""
