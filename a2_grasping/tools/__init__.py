"""The user's command-line tools behind `a2-grasping`: the demo (the main job), bag record and
replay, the regression bag, calibration publishing, checkpoint checks, the example behaviour
tree, URDF and constraints writers. May import everything else in the package (bench/ and
testing/ included); nothing but `cli.py` and the tests imports tools/.
"""
