"""Backbones: U-Net, HR-Net and SOANet, each one generic loop over its levels or stages.

Each backbone class also holds the network's optional ``stem`` and ``head`` (see `base`), so a
backbone instance is the whole compiled network and its state-dict keys carry no prefix.
"""

from blockspec.runtime.backbones.base import Backbone, check_input
from blockspec.runtime.backbones.hrnet import HRNet, HRStage
from blockspec.runtime.backbones.soanet import SOANet, SOAStage
from blockspec.runtime.backbones.unet import Gate, UNet

__all__ = ["Backbone", "Gate", "HRNet", "HRStage", "SOANet", "SOAStage", "UNet", "check_input"]
