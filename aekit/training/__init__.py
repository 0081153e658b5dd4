"""Training: the one loop, its recipe (TrainConfig), optimisers, averages, critic, augmentation, resumable state."""
