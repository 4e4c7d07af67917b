"""mnms_tf: Multitask Neural Model Search (Wong & Gesmundo, 2017) in TensorFlow/Keras."""
