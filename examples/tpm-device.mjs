// A TPM device: read the TPM's endorsement key, enroll it, register over HTTPS (the hub key arrives encrypted to the
// TPM), then connect to the assigned hub with TPM-signed tokens and send telemetry. Uses the machine's TPM, or a
// software TPM at TPM_SIMULATOR=host:port (swtpm, see below).
import provisioningService from 'azure-iot-provisioning-service';
import provisioningDevice from 'azure-iot-provisioning-device';
import provisioningHttp from 'azure-iot-provisioning-device-http';
import tpmSecurity from 'azure-iot-security-tpm';
import deviceSdk from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import tss from 'tss.js';

const { ProvisioningServiceClient } = provisioningService;
const { ProvisioningDeviceClient } = provisioningDevice;
const { Http } = provisioningHttp;
const { TpmSecurityClient, TpmAuthenticationProvider } = tpmSecurity;
const { Client, Message } = deviceSdk;
const { Mqtt } = deviceMqtt;
const call = (fn) => new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

const { DPS_CONNECTION_STRING, PROVISIONING_HOST, PROVISIONING_IDSCOPE, TPM_SIMULATOR } = process.env;
const tpm = new tss.Tpm(false);             // /dev/tpmrm0 or /dev/tpm0; without them, a simulator on 127.0.0.1:2323
if (TPM_SIMULATOR) {
  const [host, port] = TPM_SIMULATOR.split(':');
  tpm.device = new tss.TpmTcpDevice(host, Number(port), true);
}
const security = new TpmSecurityClient(undefined, tpm);
const endorsementKey = (await call((cb) => security.getEndorsementKey(cb))).toString('base64');
const registrationId = await call((cb) => security.getRegistrationId(cb));   // derived from the EK

const service = ProvisioningServiceClient.fromConnectionString(DPS_CONNECTION_STRING);
await service.createOrUpdateIndividualEnrollment({ registrationId, attestation: { type: 'tpm', tpm: { endorsementKey } } });

const { registrationState: r } = await ProvisioningDeviceClient.create(PROVISIONING_HOST, PROVISIONING_IDSCOPE, new Http(), security).register();
console.log(r.status, r.assignedHub, r.deviceId);

const auth = TpmAuthenticationProvider.fromTpmSecurityClient(r.deviceId, r.assignedHub, security);
const device = Client.fromAuthenticationProvider(auth, Mqtt);
await device.open();
await device.sendEvent(new Message(JSON.stringify({ temperature: 20 })));
console.log('connected with the TPM and sent telemetry');
await device.close();
auth.stop();
tpm.close();                                // the SDK never closes the TPM connection
