// Enroll a device: an individual enrollment with a generated symmetric key; prints the device's key.
import provisioningService from 'azure-iot-provisioning-service';

// the Azure SDKs are CommonJS packages: import the package, then take its classes
const { ProvisioningServiceClient } = provisioningService;

const service = ProvisioningServiceClient.fromConnectionString(process.env.DPS_CONNECTION_STRING);
const { responseBody: enrollment } = await service.createOrUpdateIndividualEnrollment({
  registrationId: 'sensor-001',
  attestation: { type: 'symmetricKey' },                      // keys left out are generated
  initialTwin: { tags: { building: 'b43' }, properties: { desired: { telemetryInterval: 30 } } },
});
console.log(enrollment.attestation.symmetricKey.primaryKey);
