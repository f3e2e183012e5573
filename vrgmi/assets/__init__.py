"""Limb assets: rigged glTF limbs (cut from the MakeHuman body) and the skin tone palette.

* ``limb_mesh``: surface checks, skin-weight handovers, linear blend skinning, bind-pose
  refit to a patient, mirroring right -> left (NumPy).
* ``gltf_writer``: write / read one skinned mesh as binary glTF (pygltflib).
* ``skin_tones``: Monk Skin Tone based palette covering Fitzpatrick I-VI.

The models themselves are ``models/limbs/{arm,leg}_right.glb``, made by
``tools/make_limbs.py``; their joint and bind-pose contract is docs/limb-rigs.md.
"""
