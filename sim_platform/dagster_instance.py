"""Instance-level pieces named in `dagster.yaml` files (not definitions: a code location never loads them).

`ConnectionStringComputeLogManager` is dagster-azure's `AzureBlobComputeLogManager` -- step stdout and
stderr captured locally and uploaded to a blob container, shown in the UI -- for an account reached
by a connection string. The compose deployment's container is Azurite, at
`http://azurite:10000/devstoreaccount1`; the stock class always builds
`https://<account>.blob.<endpoint_suffix>/`, which cannot point there. Only the client is built
differently; uploading, reading back and the UI's links are the stock class's. The Kubernetes
deployment uses the stock class as it is (workload identity, `default_azure_credential`).
"""

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient
from dagster import Field, Noneable, StringSource
from dagster_azure.blob import AzureBlobComputeLogManager

from sim_platform.storage.settings import parse_connection_string


class ConnectionStringComputeLogManager(AzureBlobComputeLogManager):
    def __init__(
        self,
        connection_string: str,
        container: str,
        local_dir: str | None = None,
        inst_data=None,
        prefix: str = "dagster",
        upload_interval: int | None = None,
        show_url_only: bool = False,
    ):
        parts = parse_connection_string(connection_string)
        super().__init__(
            storage_account=parts.get("accountname", "devstoreaccount1"),
            container=container,
            local_dir=local_dir,
            inst_data=inst_data,
            prefix=prefix,
            upload_interval=upload_interval,
            access_key_or_sas_token=parts.get("accountkey") or parts.get("sharedaccesssignature") or "unused",
            show_url_only=show_url_only,
        )
        self._blob_client = BlobServiceClient.from_connection_string(connection_string)
        self._container_client = self._blob_client.get_container_client(container)
        try:
            self._container_client.create_container()
        except ResourceExistsError:
            pass

    @classmethod
    def config_type(cls):
        return {
            "connection_string": StringSource,
            "container": StringSource,
            "local_dir": Field(Noneable(StringSource), is_required=False, default_value=None),
            "prefix": Field(StringSource, is_required=False, default_value="dagster"),
            "upload_interval": Field(Noneable(int), is_required=False, default_value=None),
            "show_url_only": Field(bool, is_required=False, default_value=False),
        }
