"""OpenFace 2.x's static AU models, ported: the ``openface-static`` detector and what it is built from.

- :mod:`~tag_bench.au.openface.detector`: the detector (landmarks -> PDM fit -> aligned, masked face
  -> FHOG + geometry -> linear SVR/SVM per AU).
- :mod:`~tag_bench.au.openface.files`: OpenFace's binary model files (the user's ``AU_predictors``).
- :mod:`~tag_bench.au.openface.pdm`: the point distribution model and its fit.
- :mod:`~tag_bench.au.openface.fhog`: dlib-compatible FHOG features in numpy.
"""
