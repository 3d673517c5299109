"""Calling the nodes from other programs: `grasp_client` is the non-blocking client library for
/select_grasp and the /pick, /place and /pick_and_place actions (what the behaviour trees use),
with its calls in flight in `pending` and what they end with in `results`; `clients` holds the
blocking service calls with timeouts for scripts and tests (never inside a node callback). May
import ros/ edge modules (conversions, task_conversions, service_call), never nodes/.
"""
