"""deep: the CIFAR-10 / SVHN trainer: data, models, one attack, class-wise evaluation, methods, one loop."""
