"""One place that pins how Keras runs for the reference files: CPU only, deterministic ops,
fixed threads; and what ran it (versions, processor), recorded in every file written."""
import os
import platform
import sys


def start(threads, onednn):
    """Sets the environment TensorFlow reads at import, then imports it. Call before any
    `import tensorflow` or `import keras`."""
    os.environ.update({
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_DETERMINISTIC_OPS": "1",
        "PYTHONHASHSEED": "0",
        "KERAS_BACKEND": "tensorflow",
        "TF_ENABLE_ONEDNN_OPTS": "1" if onednn else "0",
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
    })
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    return tf


def processor():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions():
    import keras
    import numpy
    import tensorflow as tf
    return {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "onednn": os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1",
        "intra_op_threads": int(os.environ["TF_NUM_INTRAOP_THREADS"]),
    }


def machine():
    return {"processor": processor(), "cores": os.cpu_count(), "system": platform.system()}
