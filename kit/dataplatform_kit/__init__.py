"""The data platform's user-code kit: Great Expectations checks that block, alert and show in the catalog.

    from dataplatform_kit import gx_check, quality_alert_sensor

See kit/README.md for what one `gx_check(...)` call gives a domain and the environment it reads.
"""

from dataplatform_kit.alerts import quality_alert_sensor
from dataplatform_kit.checks import gx_check
from dataplatform_kit.settings import QualitySettings
from dataplatform_kit.validation import Table, dataset_urn

__version__ = "0.1.0"
__all__ = ["QualitySettings", "Table", "__version__", "dataset_urn", "gx_check", "quality_alert_sensor"]
