"""deep: the CIFAR-10 / SVHN trainer (data, models, one attack, methods, one loop). Built in later issues."""
