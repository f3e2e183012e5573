"""Mirror-therapy task logic (GMI phase 3): target sequences, hit and hold detection, pose
matching, foot tasks, bilateral symmetry and per-trial scoring. Plain Python and NumPy, no
Panda3D: the scenes in ``vrgmi/scenes`` render these tasks (docs/mirror-tasks.md)."""
