// Reading the launch's roles: whether the person in front of the page is an instructor.
'use strict';

// LMSes send full IMS URIs (…/membership#Instructor, …/institution/person#Instructor) or short names.
const INSTRUCTOR_ROLE = /(^|[#/])Instructor$/;

/** True when any of the ID token's roles is an instructor role. */
function isInstructor(roles) {
  return Array.isArray(roles) && roles.some((role) => typeof role === 'string' && INSTRUCTOR_ROLE.test(role));
}

module.exports = { isInstructor };
