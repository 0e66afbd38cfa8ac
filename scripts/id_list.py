"""Structure-id lists: one id per line, text after '#' and blank lines ignored. The format of
data/models/batio3_default.training_ids.txt (scripts/make_default_model.sh) and of the DFT queue order
(scripts/active_learning/queue_priority.py, read by scripts/dft/run_queue.py --priority)."""


def read_ids(path):
    """The ids of PATH in file order."""
    with open(path) as f:
        return [line.split("#")[0].strip() for line in f if line.split("#")[0].strip()]
